using System.Globalization;
using System.Net;

namespace Milter.Configuration;

/// <summary>A resolver address as written in config or --dns: HOST[:PORT], [IPv6]:PORT or a bare IPv6 address.</summary>
public static class DnsServerSpec
{
    public static bool TryParse(string? text, out IPEndPoint? endPoint)
    {
        endPoint = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (IPAddress.TryParse(text, out var bare) && !text.StartsWith('['))
        {
            endPoint = new IPEndPoint(bare, 53);
            return true;
        }
        if (IPEndPoint.TryParse(text, out var ep) && ep.Port != 0)
        {
            endPoint = ep;
            return true;
        }
        // "[::1]" without a port
        if (text.StartsWith('[') && text.EndsWith(']') && IPAddress.TryParse(text[1..^1], out var v6))
        {
            endPoint = new IPEndPoint(v6, 53);
            return true;
        }
        _ = CultureInfo.InvariantCulture;
        return false;
    }
}
