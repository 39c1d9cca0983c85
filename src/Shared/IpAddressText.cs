using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Milter.Shared;

/// <summary>
/// Strict text forms of IP addresses, for every address read from text (CLI, configuration, listen specs, DNS
/// server specs, the milter connect information). IPAddress.TryParse also takes inet_aton forms ("1.2.3" is
/// 1.2.0.3, "0x7f.1" and "2130706433" are 127.0.0.1), zone indexes and brackets; these do not.
/// IPv4: the dotted quad, four decimal octets 0-255 without leading zeros (RFC 3986 3.2.2 dec-octet).
/// IPv6: RFC 4291 2.2: eight groups of 1-4 hex digits, at most one "::" standing for one or more zero groups, the
/// last 32 bits optionally as a dotted quad; no zone, no brackets, no spaces.
/// This one source file is compiled into each assembly that parses addresses (internal in each), so that the
/// protocol and the engines keep no reference to each other.
/// </summary>
internal static class IpAddressText
{
    /// <summary>An IPv4 or IPv6 address in its strict text form.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address) =>
        text.Contains(':') ? TryParseV6(text, out address) : TryParseV4(text, out address);

    public static bool TryParseV4(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        Span<byte> bytes = stackalloc byte[4];
        int part = 0;
        foreach (var range in text.Split('.'))
        {
            if (part == 4 || !TryParseOctet(text[range], out bytes[part]))
                return false;
            part++;
        }
        if (part != 4)
            return false;
        address = new IPAddress(bytes);
        return true;
    }

    public static bool TryParseV6(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        int doubleColon = text.IndexOf("::");
        int groups = 0;
        if (doubleColon < 0)
        {
            if (!CountGroups(text, allowV4: true, ref groups) || groups != 8)
                return false;
        }
        else
        {
            var right = text[(doubleColon + 2)..];
            if (right.Contains("::", StringComparison.Ordinal)
                || !CountGroups(text[..doubleColon], allowV4: false, ref groups)
                || !CountGroups(right, allowV4: true, ref groups)
                || groups > 7)
                return false;
        }
        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        address = parsed;
        return true;
    }

    /// <summary>Counts the ':'-separated groups of one side of "::" (an empty side has none); a dotted quad may
    /// stand last (where <paramref name="allowV4"/>) and counts as two.</summary>
    private static bool CountGroups(ReadOnlySpan<char> side, bool allowV4, ref int groups)
    {
        if (side.IsEmpty)
            return true;
        foreach (var range in side.Split(':'))
        {
            var group = side[range];
            if (group.Contains('.'))
            {
                if (!allowV4 || range.End.GetOffset(side.Length) != side.Length || !TryParseV4(group, out _))
                    return false;
                groups += 2;
                continue;
            }
            if (group.Length is 0 or > 4)
                return false;
            foreach (var c in group)
                if (!char.IsAsciiHexDigit(c)) return false;
            groups++;
        }
        return true;
    }

    /// <summary>A prefix length: decimal without sign or leading zero, at most <paramref name="max"/>.</summary>
    public static bool TryParsePrefix(ReadOnlySpan<char> text, int max, out int prefix)
    {
        prefix = 0;
        if (text.Length is 0 or > 3 || (text.Length > 1 && text[0] == '0'))
            return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c)) return false;
            prefix = prefix * 10 + (c - '0');
        }
        return prefix <= max;
    }

    private static bool TryParseOctet(ReadOnlySpan<char> text, out byte value)
    {
        value = 0;
        if (!TryParsePrefix(text, 255, out int v))
            return false;
        value = (byte)v;
        return true;
    }
}
