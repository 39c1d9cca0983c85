using Milter.MailAuth.Dns;
using System.Net;
using System.Net.Sockets;

namespace Milter.MailAuth.Spf;

/// <summary>Domain-name and address rules of RFC 7208 (4.3, 5.6, 7.1, 7.3), without regular expressions.</summary>
internal static class SpfDomain
{
    public const int MaxDomainLength = 253;

    /// <summary>toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).</summary>
    public static bool IsTopLabel(ReadOnlySpan<char> label)
    {
        if (label.Length == 0 || !char.IsAsciiLetterOrDigit(label[0]) || !char.IsAsciiLetterOrDigit(label[^1]))
            return false;
        bool hasLetter = false, hasDash = false;
        foreach (var c in label)
        {
            if (char.IsAsciiLetter(c)) hasLetter = true;
            else if (c == '-') hasDash = true;
            else if (!char.IsAsciiDigit(c)) return false;
        }
        return hasLetter || hasDash;
    }

    /// <summary>
    /// Whether <paramref name="domain"/> can be the &lt;domain&gt; of check_host() (RFC 7208 4.3): a fully qualified
    /// multi-label name of letters, digits, '-' and '_' with labels of 1..63 characters, at most 253 in all, and a
    /// top label that is not all-numeric (so neither IP literals nor "[...]" domain literals qualify).
    /// </summary>
    public static bool IsValidCheckDomain(string domain)
    {
        var name = domain.AsSpan();
        if (name.Length > 0 && name[^1] == '.')
            name = name[..^1];
        if (name.Length is 0 or > MaxDomainLength)
            return false;
        int labels = 0;
        foreach (var range in name.Split('.'))
        {
            var label = name[range];
            if (label.Length is 0 or > 63)
                return false;
            foreach (var c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
                    return false;
            }
            labels++;
        }
        int lastDot = name.LastIndexOf('.');
        return labels >= 2 && IsTopLabel(name[(lastDot + 1)..]);
    }

    /// <summary>
    /// Prepares an expanded domain-spec for a query (RFC 7208 7.3): one trailing dot removed, and when longer than
    /// 253 characters, labels removed from the left until it fits.
    /// </summary>
    public static string PrepareTarget(string expanded)
    {
        var name = expanded.Length > 0 && expanded[^1] == '.' ? expanded[..^1] : expanded;
        while (name.Length > MaxDomainLength)
        {
            int dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
                return name;
            name = name[(dot + 1)..];
        }
        return name;
    }

    /// <summary>Whether a query can be composed for <paramref name="name"/>: printable ASCII, no empty label,
    /// labels of at most 63 characters, at most 253 in all. Names that fail are treated as non-existent.</summary>
    public static bool IsQueryable(string name)
    {
        if (name.Length is 0 or > MaxDomainLength)
            return false;
        int labelLength = 0;
        foreach (var c in name)
        {
            if (c is < ' ' or > '~')
                return false;
            if (c == '.')
            {
                if (labelLength == 0) return false;
                labelLength = 0;
            }
            else if (++labelLength > 63)
            {
                return false;
            }
        }
        return labelLength > 0;
    }

    /// <summary>True when <paramref name="name"/> equals <paramref name="domain"/> or is a subdomain of it (case-insensitive).</summary>
    public static bool IsSameOrSubdomain(string name, string domain)
    {
        name = DnsNames.TrimTrailingDot(name);
        domain = DnsNames.TrimTrailingDot(domain);
        if (name.Equals(domain, StringComparison.OrdinalIgnoreCase))
            return true;
        return name.Length > domain.Length + 1
               && name[name.Length - domain.Length - 1] == '.'
               && name.EndsWith(domain, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>ip4-network: four decimal octets, no leading zeros (RFC 7208 5.6).</summary>
    public static bool TryParseIp4Network(ReadOnlySpan<char> text, out IPAddress? address)
    {
        address = null;
        Span<byte> bytes = stackalloc byte[4];
        int part = 0;
        foreach (var range in text.Split('.'))
        {
            var piece = text[range];
            if (part == 4 || !TryParseDecimal(piece, 255, out int value))
                return false;
            bytes[part++] = (byte)value;
        }
        if (part != 4)
            return false;
        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>ip6-network (RFC 4291 2.2 text form, no zone index).</summary>
    public static bool TryParseIp6Network(ReadOnlySpan<char> text, out IPAddress? address)
    {
        address = null;
        if (text.IndexOf(':') < 0)
            return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c) && c is not ':' and not '.')
                return false;
        }
        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        address = parsed;
        return true;
    }

    /// <summary>A decimal number with no sign and no leading zero, at most <paramref name="max"/>.</summary>
    public static bool TryParseDecimal(ReadOnlySpan<char> text, int max, out int value)
    {
        value = 0;
        if (text.Length is 0 or > 3 || (text.Length > 1 && text[0] == '0'))
            return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c)) return false;
            value = value * 10 + (c - '0');
        }
        return value <= max;
    }

    /// <summary>Whether <paramref name="ip"/> lies in <paramref name="network"/>/<paramref name="prefix"/>
    /// (same address family required).</summary>
    public static bool InNetwork(IPAddress ip, IPAddress network, int prefix)
    {
        if (ip.AddressFamily != network.AddressFamily)
            return false;
        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        ip.TryWriteBytes(a, out int length);
        network.TryWriteBytes(b, out _);
        int full = prefix / 8;
        for (int i = 0; i < full && i < length; i++)
        {
            if (a[i] != b[i]) return false;
        }
        int rest = prefix % 8;
        if (rest == 0 || full >= length)
            return true;
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (b[full] & mask);
    }
}
