using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Milter.MailAuth.Dns;

/// <summary>Small helpers for DNS names shared by the resolvers and the engines.</summary>
public static class DnsNames
{
    private const string HexDigits = "0123456789abcdef";

    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = false };

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

    /// <summary>A name in A-labels and lower case (RFC 5891 U-labels converted), or null when a label cannot be
    /// converted. No other validation: callers check label syntax and length themselves.</summary>
    public static string? ToALabels(string name)
    {
        if (Ascii.IsValid(name))
            return name.ToLowerInvariant();
        try
        {
            return Idn.GetAscii(name).ToLowerInvariant();
        }
        catch (Exception e) when (e is ArgumentException or PlatformNotSupportedException)
        {
            return null;
        }
    }
}
