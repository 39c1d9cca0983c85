using System.Net;
using Milter.Shared;

namespace Milter.Configuration;

/// <summary>A list of IP networks (InternalHosts). Plain addresses mean a single host. IPv4-mapped IPv6
/// client addresses are matched as IPv4.</summary>
public sealed class NetworkList
{
    private readonly IPNetwork[] _networks;

    public NetworkList(IEnumerable<string> entries)
    {
        var list = new List<IPNetwork>();
        foreach (var e in entries)
        {
            if (!TryParseNetwork(e, out var n))
                throw new FormatException($"not an IP address or network: {e}");
            list.Add(n);
        }
        _networks = list.ToArray();
    }

    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        // Strict address text (IpAddressText: no "10.1" for 10.0.0.1) and a decimal prefix length.
        var slash = text.IndexOf('/');
        if (!IpAddressText.TryParse(slash < 0 ? text : text[..slash], out var ip)) return false;
        int max = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0)
        {
            network = new IPNetwork(ip, max);
            return true;
        }
        return IpAddressText.TryParsePrefix(text.AsSpan(slash + 1), max, out _) && IPNetwork.TryParse(text, out network);
    }

    public bool Contains(IPAddress? address)
    {
        if (address is null) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var n in _networks)
        {
            if (n.BaseAddress.AddressFamily == address.AddressFamily && n.Contains(address))
                return true;
        }
        return false;
    }
}
