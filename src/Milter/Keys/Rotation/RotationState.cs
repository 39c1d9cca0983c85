using System.Text.Json.Serialization;

namespace Milter.Keys.Rotation;

/// <summary>The rotation state file (<c>key-rotation.json</c> in the data directory): per signing domain and algorithm,
/// the key the daemon signs with, the pending one waiting for DNS, and the retired ones whose records are still published.
/// `milter keys rotate` adds a pending key; the daemon records when DNS serves it and makes the switch. The file is the
/// truth across reloads and restarts; it holds paths and selectors, never key material.</summary>
public sealed record RotationState
{
    public const int CurrentVersion = 1;
    public int Version { get; init; } = CurrentVersion;
    public IReadOnlyList<RotationEntry> Keys { get; init; } = [];

    /// <summary>A time as the CLI and the log print it: 2026-12-11T09:30:00Z.</summary>
    public static string Text(DateTimeOffset time)
        => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public RotationEntry? Find(string domain, string algorithm)
        => Keys.FirstOrDefault(k => k.Domain == domain && k.Algorithm == algorithm);

    /// <summary>This state with <paramref name="entry"/> in place of the entry of its domain and algorithm (or added).</summary>
    public RotationState With(RotationEntry entry)
    {
        var keys = Keys.Where(k => !(k.Domain == entry.Domain && k.Algorithm == entry.Algorithm)).Append(entry)
            .OrderBy(k => k.Domain, StringComparer.Ordinal).ThenBy(k => k.Algorithm, StringComparer.Ordinal).ToList();
        return this with { Keys = keys };
    }
}

/// <summary>The rotation of one configured key: the rule keys of <see cref="Domain"/> whose key is an
/// <see cref="Algorithm"/> key sign with <see cref="Active"/>.</summary>
public sealed record RotationEntry
{
    public required string Domain { get; init; }
    /// <summary>rsa-sha256 or ed25519-sha256.</summary>
    public required string Algorithm { get; init; }
    public required RotationKey Active { get; init; }
    public RotationKey? Pending { get; init; }
    public IReadOnlyList<RotationKey> Retiring { get; init; } = [];
}

/// <summary>A key of a rotation. <see cref="CreatedAt"/>: written by `keys rotate`; <see cref="ServedSince"/> (pending):
/// since when every resolver has served its record; <see cref="SwitchedAt"/>: when it became active (active) or stopped
/// being active (retiring).</summary>
public sealed record RotationKey
{
    public required string Selector { get; init; }
    public required string KeyFile { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? ServedSince { get; init; }
    public DateTimeOffset? SwitchedAt { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(RotationState))]
internal sealed partial class RotationStateJsonContext : JsonSerializerContext;
