using System.Net;
using Milter.Shared;

namespace Milter.Configuration;

/// <summary>A list of clients (InternalHosts), as OpenDKIM's host lists (opendkim.conf(5), PeerList): IP addresses
/// (optionally in square brackets), CIDR networks, host names (<c>mail.example.com</c>), domains (<c>.example.com</c>: the
/// names below it), each of them negated with a leading <c>!</c>. The most precise entry wins: host names are matched
/// first (the name itself, then each parent domain), then the address (the longest prefix first); at equal precision a
/// negation wins. IPv4-mapped IPv6 client addresses are matched as IPv4.</summary>
public sealed class NetworkList
{
    private readonly List<(IPNetwork Network, bool Negated)> _networks = [];
    private readonly Dictionary<string, bool> _names = new(StringComparer.OrdinalIgnoreCase);

    public NetworkList(IEnumerable<string> entries)
    {
        foreach (var e in entries)
        {
            if (!TryParseEntry(e, out var negated, out var network, out var name))
                throw new FormatException($"not an IP address, network or host name: {e}");
            if (name is not null)
                _names[name] = _names.TryGetValue(name, out var other) ? other || negated : negated;
            else
                _networks.Add((network, negated));
        }
        // Longest prefix first; at equal length the negation first.
        _networks.Sort((a, b) => b.Network.PrefixLength != a.Network.PrefixLength
            ? b.Network.PrefixLength.CompareTo(a.Network.PrefixLength) : b.Negated.CompareTo(a.Negated));
    }

    /// <summary>An IP address or network alone (no name, no negation), e.g. for resolver-independent checks.</summary>
    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        // Strict address text (IpAddressText: no "10.1" for 10.0.0.1) and a decimal prefix length.
        var slash = text.IndexOf('/');
        var address = slash < 0 ? text : text[..slash];
        if (address.Length > 2 && address[0] == '[' && address[^1] == ']') address = address[1..^1];
        if (!IpAddressText.TryParse(address, out var ip)) return false;
        int max = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0)
        {
            network = new IPNetwork(ip, max);
            return true;
        }
        if (!IpAddressText.TryParsePrefix(text.AsSpan(slash + 1), max, out var bits)) return false;
        // Like inet_addr/OpenDKIM, the host bits of the base address are ignored (192.0.2.1/24 is 192.0.2.0/24).
        network = new IPNetwork(Mask(ip, bits), bits);
        return true;
    }

    private static IPAddress Mask(IPAddress ip, int bits)
    {
        var bytes = ip.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(bits - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    /// <summary>One entry: <c>[!]ADDRESS[/BITS]</c> or <c>[!]host.name</c> or <c>[!].domain</c>.</summary>
    public static bool TryParseEntry(string? text, out bool negated, out IPNetwork network, out string? name)
    {
        negated = false;
        network = default;
        name = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (text[0] == '!')
        {
            negated = true;
            text = text[1..];
        }
        if (TryParseNetwork(text, out network)) return true;
        if (!IsHostName(text)) return false;
        name = text.TrimEnd('.');
        return true;
    }

    private static bool IsHostName(string text)
    {
        var body = text.StartsWith('.') ? text[1..] : text;
        if (body.Length == 0 || body.Length > 253 || body.StartsWith('.') || body.Contains("..", StringComparison.Ordinal)) return false;
        // The last label has a letter (no top-level domain is numeric): "10.1" or "0x7f.1" is a bad address, not a name.
        var last = body[(body.LastIndexOf('.') + 1)..];
        return body.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_') && last.Any(char.IsAsciiLetter);
    }

    public bool Contains(IPAddress? address) => Contains(address, null);

    /// <summary>Whether the client (address, and the host name the MTA gave, when any) is in the list.</summary>
    public bool Contains(IPAddress? address, string? hostName)
    {
        if (_names.Count > 0 && !string.IsNullOrEmpty(hostName) && hostName[0] != '[')
        {
            var name = hostName.TrimEnd('.');
            if (_names.TryGetValue(name, out var negated)) return !negated;
            for (var dot = name.IndexOf('.', StringComparison.Ordinal); dot >= 0; dot = name.IndexOf('.', dot + 1))
            {
                if (_names.TryGetValue(name[dot..], out negated)) return !negated;
            }
        }
        if (address is null) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var (n, negated) in _networks)
        {
            if (n.BaseAddress.AddressFamily == address.AddressFamily && n.Contains(address))
                return !negated;
        }
        return false;
    }
}
