using Milter.Configuration;
using Milter.Keys;
using Milter.Keys.Rotation;
using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>`milter keys rotate --domain D [--algorithm rsa|ed25519] [--config FILE]`: a new key for the configured key of D
/// (of that algorithm) under a new date-based selector (<see cref="RotationSelector"/>), written beside the current key file
/// (or in Signing:Rotation:KeyDirectory) as keygen writes keys, its TXT record printed and written, and the rotation recorded
/// as pending in the state file. The daemon switches to it once DNS serves it (<see cref="KeyRotation"/>).</summary>
public static class KeysRotateCommand
{
    private const string Name = "keys rotate";

    public static int Execute(CommandLine cl)
    {
        var domain = cl.Require("domain").Trim().TrimEnd('.').ToLowerInvariant();
        if (!DkimKeyRecordName.IsValidDomain(domain)) throw new UsageException($"{Name}: --domain '{domain}' is not a domain name");
        var wanted = cl.Get("algorithm") is { } a ? Algorithm(a) : null;
        var options = ConfigLoader.Load(cl.Get("config"), listen: null, dnsServers: cl.Get("dns"));
        var store = KeyStore.Load(options.Signing, TimeProvider.System);
        var file = RotationStateFile.For(options.Reports);
        var state = ReadState(file);

        var configured = ConfiguredKey(store, domain, wanted);
        var algorithm = configured.Key!.Algorithm;
        var entry = state.Find(domain, algorithm);
        if (entry?.Pending is { } pending)
            throw new UsageException($"{Name}: {domain} {algorithm} has a pending rotation already (selector {pending.Selector}, {pending.KeyFile}); " +
                                     "the daemon switches to it once DNS serves it: see milter keys status");
        var active = entry?.Active ?? new RotationKey { Selector = configured.Selector, KeyFile = Path.GetFullPath(configured.KeyFile) };
        var directory = Path.GetFullPath(options.Signing.Rotation.KeyDirectory is { Length: > 0 } d ? d : Path.GetDirectoryName(active.KeyFile)!);

        var now = DateTimeOffset.UtcNow;
        var taken = new HashSet<string>(store.Rules.SelectMany(r => r.Keys).Where(k => k.Domain == domain).Select(k => k.Selector), StringComparer.OrdinalIgnoreCase);
        foreach (var k in (entry?.Retiring ?? []).Append(active)) taken.Add(k.Selector);
        var selector = RotationSelector.Next(algorithm, now, s => taken.Contains(s)
            || File.Exists(Path.Combine(directory, s + ".private")) || File.Exists(Path.Combine(directory, s + ".txt")))
            ?? throw new UsageException($"{Name}: every selector of today for {domain} {algorithm} is taken; rotate again tomorrow");

        var bits = configured.Key.KeyType == DkimKeyType.Rsa ? Math.Max(configured.Key.KeySizeBits, KeyRecordCheck.RecommendedRsaBits) : 0;
        using var key = DkimPrivateKey.Generate(configured.Key.KeyType, bits);
        var recordName = $"{selector}._domainkey.{domain}";
        var record = ZoneTxtRecord.Format(recordName, key.PublicKeyRecord);
        var privatePath = Path.Combine(directory, selector + ".private");
        var txtPath = Path.Combine(directory, selector + ".txt");
        KeygenCommand.WriteFile(privatePath, key.ExportPkcs8Pem(), KeygenCommand.OwnerOnly, force: false, Name);
        string? owner;
        try
        {
            owner = KeyFileOwner.CopyOwner(active.KeyFile, privatePath);
            KeygenCommand.WriteFile(txtPath, record + "\n", KeygenCommand.OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead, force: false, Name);
            file.Update(s => AddPending(s, domain, algorithm, configured, new RotationKey { Selector = selector, KeyFile = privatePath, CreatedAt = now },
                options.Signing.Rotation, now));
        }
        catch (Exception e) when (e is UsageException or RotationStateException)
        {
            TryDelete(privatePath);
            TryDelete(txtPath);
            throw new UsageException($"{Name}: {e.Message}", e);
        }

        Console.Out.WriteLine($"wrote {privatePath} ({KeyRecordCheck.Describe(key)} private key for {key.Algorithm}, PKCS#8 PEM, mode 0600)");
        if (owner is not null) Console.Out.WriteLine(owner);
        Console.Out.WriteLine($"wrote {txtPath} (the TXT record below)");
        Console.Out.WriteLine($"{domain} {algorithm}: selector {selector} is pending; {active.Selector} signs until the daemon switches (rotation state {file.Path})");
        Console.Out.WriteLine($"publish this record in DNS:");
        Console.Out.WriteLine(record);
        Console.Out.WriteLine($"the daemon switches to {selector} once every resolver has served it for {options.Signing.Rotation.PublishedForMinutes} minute(s); follow it with: milter keys status");
        return Program.ExitOk;
    }

    private static string Algorithm(string a) => a.ToLowerInvariant() switch
    {
        "rsa" or "rsa-sha256" => "rsa-sha256",
        "ed25519" or "ed25519-sha256" => "ed25519-sha256",
        _ => throw new UsageException($"{Name}: --algorithm must be rsa or ed25519, not '{a}'"),
    };

    internal static RotationState ReadState(RotationStateFile file)
    {
        try
        {
            return file.Read();
        }
        catch (RotationStateException e)
        {
            throw new UsageException($"{Name}: {e.Message}", e);
        }
    }

    /// <summary>The one configured key of the domain (and algorithm) that the rotation replaces.</summary>
    private static KeyStore.RuleKey ConfiguredKey(KeyStore store, string domain, string? algorithm)
    {
        var keys = store.RotatableKeys(domain);
        if (keys.Count == 0)
            throw new UsageException($"{Name}: no signing key of {domain} in the config (Signing:Keys or Signing:Rules, a fixed domain and key file); " +
                                     "configure one first (milter keygen)");
        var fitting = algorithm is null ? keys : keys.Where(k => k.Key!.Algorithm == algorithm).ToList();
        if (fitting.Count == 0)
            throw new UsageException($"{Name}: {domain} has no {algorithm} key in the config (it has {string.Join(", ", keys.Select(k => k.Key!.Algorithm).Distinct())})");
        var algorithms = fitting.Select(k => k.Key!.Algorithm).Distinct().ToList();
        if (algorithms.Count > 1)
            throw new UsageException($"{Name}: {domain} has {string.Join(" and ", algorithms)} keys; choose one with --algorithm rsa or --algorithm ed25519");
        if (fitting.Count > 1)
            throw new UsageException($"{Name}: {domain} has {fitting.Count} {algorithms[0]} keys ({string.Join(", ", fitting.Select(k => k.Selector))}); " +
                                     "rotation replaces one key per domain and algorithm");
        return fitting[0];
    }

    private static RotationState AddPending(RotationState state, string domain, string algorithm, KeyStore.RuleKey configured, RotationKey pending,
        RotationSection settings, DateTimeOffset now)
    {
        var entry = state.Find(domain, algorithm);
        if (entry?.Pending is { } other)
            throw new RotationStateException($"{domain} {algorithm} got a pending rotation meanwhile (selector {other.Selector})");
        entry ??= new RotationEntry
        {
            Domain = domain,
            Algorithm = algorithm,
            Active = new RotationKey { Selector = configured.Selector, KeyFile = Path.GetFullPath(configured.KeyFile) },
        };
        // Retired keys already reported removable (`keys status`) leave the state.
        var retiring = entry.Retiring.Where(r => r.SwitchedAt is not { } at || at + TimeSpan.FromDays(settings.RetireAfterDays) > now).ToList();
        return state.With(entry with { Pending = pending, Retiring = retiring });
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort
        }
    }
}
