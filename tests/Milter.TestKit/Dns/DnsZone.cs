using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Milter.TestKit.Dns;

/// <summary>One authoritative zone for <see cref="KnotDnsServer"/>: built record by record in code, or
/// from zone-file text. Names are relative to the origin ("@" is the origin), or absolute with a final dot.
/// A default SOA and NS (ns.invalid.) are added when the records have none.</summary>
public sealed class DnsZone
{
    private readonly List<string> _lines = [];
    private readonly string? _text;

    public DnsZone(string origin)
    {
        Origin = NormalizeOrigin(origin);
    }

    private DnsZone(string origin, string text) : this(origin)
    {
        _text = text;
    }

    /// <summary>The zone apex with a final dot, lower case, e.g. "example.test.".</summary>
    public string Origin { get; }

    /// <summary>The origin without the final dot, as Knot's zone file name and as query names.</summary>
    public string Name => Origin.TrimEnd('.');

    /// <summary>A zone from zone-file text (RFC 1035 master file syntax). $ORIGIN is set to the origin and a
    /// default $TTL 300 applies; a default SOA and NS are added when the text has no SOA record.</summary>
    public static DnsZone FromText(string origin, string zoneFileText) => new(origin, zoneFileText);

    /// <summary>The reverse zone for an IPv4 /24 network: "192.0.2" or "192.0.2.0" gives "2.0.192.in-addr.arpa".</summary>
    public static DnsZone ReverseV4(string network24)
    {
        string[] parts = network24.Split('.', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 3 or > 4)
            throw new ArgumentException($"expected a /24 network like 192.0.2, got '{network24}'", nameof(network24));
        return new DnsZone($"{parts[2]}.{parts[1]}.{parts[0]}.in-addr.arpa");
    }

    /// <summary>The reverse lookup name of an address with a final dot (in-addr.arpa or ip6.arpa).</summary>
    public static string ReverseName(IPAddress address)
    {
        byte[] bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
            return string.Join('.', bytes.Reverse().Select(b => b.ToString(CultureInfo.InvariantCulture))) + ".in-addr.arpa.";
        var nibbles = new StringBuilder();
        for (int i = bytes.Length - 1; i >= 0; i--)
            nibbles.Append(CultureInfo.InvariantCulture, $"{bytes[i] & 0xF:x}.{bytes[i] >> 4:x}.");
        return nibbles + "ip6.arpa.";
    }

    /// <summary>Adds a record with rdata in zone-file syntax.</summary>
    public DnsZone Add(string name, string type, string rdata, int ttl = 300)
    {
        if (_text is not null)
            throw new InvalidOperationException("a zone built from text takes no further records");
        _lines.Add($"{name} {ttl.ToString(CultureInfo.InvariantCulture)} IN {type} {rdata}");
        return this;
    }

    public DnsZone A(string name, string address, int ttl = 300) =>
        Add(name, "A", CheckAddress(address, AddressFamily.InterNetwork), ttl);

    public DnsZone Aaaa(string name, string address, int ttl = 300) =>
        Add(name, "AAAA", CheckAddress(address, AddressFamily.InterNetworkV6), ttl);

    public DnsZone Mx(string name, int preference, string exchange, int ttl = 300) =>
        Add(name, "MX", $"{preference.ToString(CultureInfo.InvariantCulture)} {exchange}", ttl);

    public DnsZone Ptr(string name, string target, int ttl = 300) => Add(name, "PTR", target, ttl);

    /// <summary>A PTR for an address, named by its absolute reverse name (the address must fall in this zone).</summary>
    public DnsZone Ptr(IPAddress address, string target, int ttl = 300) => Ptr(ReverseName(address), target, ttl);

    public DnsZone Cname(string name, string target, int ttl = 300) => Add(name, "CNAME", target, ttl);

    public DnsZone Ns(string name, string target, int ttl = 300) => Add(name, "NS", target, ttl);

    /// <summary>A TXT record holding <paramref name="value"/> as one logical string: split into
    /// character-strings of at most 255 bytes (RFC 1035 3.3), all in the one record.</summary>
    public DnsZone Txt(string name, string value, int ttl = 300) =>
        Add(name, "TXT", "( " + string.Join(' ', SplitTxt(value).Select(Quote)) + " )", ttl);

    /// <summary>A TXT record with exactly these character-strings (each at most 255 bytes).</summary>
    public DnsZone TxtStrings(string name, IEnumerable<string> strings, int ttl = 300)
    {
        var list = strings.ToList();
        if (list.Any(s => Encoding.UTF8.GetByteCount(s) > 255))
            throw new ArgumentException("a TXT character-string holds at most 255 bytes", nameof(strings));
        return Add(name, "TXT", "( " + string.Join(' ', list.Select(Quote)) + " )", ttl);
    }

    /// <summary>Splits UTF-8 text into chunks of at most 255 bytes (never inside a character).</summary>
    public static IReadOnlyList<string> SplitTxt(string value)
    {
        var chunks = new List<string>();
        var current = new StringBuilder();
        int bytes = 0;
        foreach (var rune in value.EnumerateRunes())
        {
            int length = rune.Utf8SequenceLength;
            if (bytes + length > 255)
            {
                chunks.Add(current.ToString());
                current.Clear();
                bytes = 0;
            }
            current.Append(rune.ToString());
            bytes += length;
        }
        if (current.Length > 0 || chunks.Count == 0)
            chunks.Add(current.ToString());
        return chunks;
    }

    /// <summary>A zone-file quoted string: quote and backslash escaped, non-printable and non-ASCII bytes as \DDD.</summary>
    private static string Quote(string chunk)
    {
        var sb = new StringBuilder("\"");
        foreach (byte b in Encoding.UTF8.GetBytes(chunk))
        {
            if (b is (byte)'"' or (byte)'\\')
                sb.Append('\\').Append((char)b);
            else if (b is < 0x20 or >= 0x7F)
                sb.Append('\\').Append(b.ToString("D3", CultureInfo.InvariantCulture));
            else
                sb.Append((char)b);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>The zone file Knot loads.</summary>
    public string ToZoneFileText()
    {
        var sb = new StringBuilder();
        sb.Append("$ORIGIN ").Append(Origin).Append('\n');
        sb.Append("$TTL 300\n");
        string body = _text ?? string.Join('\n', _lines);
        if (!HasSoa(body))
        {
            // The name server lies outside every test zone, so the zone gains no name of its own.
            sb.Append("@ 300 IN SOA ns.invalid. hostmaster.").Append(Origin).Append(" 1 3600 600 86400 300\n");
            sb.Append("@ 300 IN NS ns.invalid.\n");
        }
        sb.Append(body).Append('\n');
        return sb.ToString();
    }

    private static bool HasSoa(string body) =>
        body.Split('\n').Any(line => line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Any(token => token.Equals("SOA", StringComparison.OrdinalIgnoreCase)));

    private static string NormalizeOrigin(string origin)
    {
        string trimmed = origin.Trim().TrimEnd('.').ToLowerInvariant();
        if (trimmed.Length == 0)
            throw new ArgumentException("a zone needs an origin (the root zone is not supported)", nameof(origin));
        return trimmed + ".";
    }

    private static string CheckAddress(string address, AddressFamily family)
    {
        if (!IPAddress.TryParse(address, out var parsed) || parsed.AddressFamily != family)
            throw new ArgumentException($"'{address}' is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address", nameof(address));
        return parsed.ToString();
    }
}
