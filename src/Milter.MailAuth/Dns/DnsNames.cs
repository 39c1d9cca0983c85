using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Milter.MailAuth.Dns;

/// <summary>Small helpers for DNS names shared by the resolvers and the engines.</summary>
public static class DnsNames
{
    private const string HexDigits = "0123456789abcdef";

    /// <summary>The reverse-lookup name of an address, without trailing dot:
    /// "4.3.2.1.in-addr.arpa" or 32 nibbles + ".ip6.arpa" (RFC 1035 3.5, RFC 3596 2.5).</summary>
    public static string ReverseName(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var sb = new StringBuilder(address.AddressFamily == AddressFamily.InterNetwork ? 29 : 73);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (int i = 3; i >= 0; i--)
                sb.Append(bytes[i]).Append('.');
            return sb.Append("in-addr.arpa").ToString();
        }
        for (int i = 15; i >= 0; i--)
        {
            sb.Append(HexDigits[bytes[i] & 0xF]).Append('.');
            sb.Append(HexDigits[bytes[i] >> 4]).Append('.');
        }
        return sb.Append("ip6.arpa").ToString();
    }

    /// <summary>The address in dotted form: IPv4 as a dotted quad, IPv6 as 32 dot-separated lower-case
    /// nibbles, most significant first (the form RFC 7208 7.3 gives the "i" macro).</summary>
    public static string DottedAddress(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
            return address.ToString();
        var sb = new StringBuilder(63);
        foreach (var b in bytes)
        {
            if (sb.Length > 0) sb.Append('.');
            sb.Append(HexDigits[b >> 4]).Append('.').Append(HexDigits[b & 0xF]);
        }
        return sb.ToString();
    }

    /// <summary>Removes one trailing dot, if present.</summary>
    public static string TrimTrailingDot(string name) =>
        name.Length > 1 && name[^1] == '.' ? name[..^1] : name == "." ? "" : name;

    /// <summary>A name in A-labels and lower case: ASCII labels lower-cased as they are, each non-ASCII label lower-cased
    /// and Punycode-encoded with the "xn--" prefix (RFC 5891 4.4, our own <see cref="Punycode"/>, no library mapping);
    /// null when a label cannot be encoded. No other validation: callers check the result with <see cref="DomainName"/>
    /// (which also refuses an encoded label whose U-label is not acceptable).</summary>
    public static string? ToALabels(string name)
    {
        if (Ascii.IsValid(name))
            return name.ToLowerInvariant();
        var labels = name.ToLowerInvariant().Split('.');
        for (int i = 0; i < labels.Length; i++)
        {
            if (Ascii.IsValid(labels[i]))
                continue;
            if (Punycode.Encode(labels[i]) is not { } encoded)
                return null;
            labels[i] = "xn--" + encoded;
        }
        return string.Join('.', labels);
    }
}
