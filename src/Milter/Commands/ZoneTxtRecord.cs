using System.Text;

namespace Milter.Commands;

/// <summary>A TXT record in zone-file syntax (RFC 1035 5.1), its value split into character-strings of
/// at most 255 octets (RFC 1035 3.3.14), which a DKIM verifier joins again (RFC 6376 3.6.2.2).</summary>
internal static class ZoneTxtRecord
{
    public const int MaxStringLength = 255;

    /// <summary>"NAME. IN TXT ( "part1" "part2" )" for an ASCII value.</summary>
    public static string Format(string name, string value)
    {
        var sb = new StringBuilder();
        sb.Append(name.TrimEnd('.')).Append(". IN TXT (");
        foreach (var part in Split(value))
            sb.Append(" \"").Append(part.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
        return sb.Append(" )").ToString();
    }

    public static IReadOnlyList<string> Split(string value)
    {
        if (value.Any(c => c is < ' ' or > '~'))
            throw new ArgumentException("a DKIM key record is printable ASCII", nameof(value));
        var parts = new List<string>();
        for (var i = 0; i < value.Length; i += MaxStringLength)
            parts.Add(value.Substring(i, Math.Min(MaxStringLength, value.Length - i)));
        return parts;
    }
}
