using System.Net;

namespace Milter.Protocol;

public enum ConnectFamily { Unknown, Unix, IPv4, IPv6 }

/// <summary>SMFIC_CONNECT: the SMTP client as the MTA saw it.</summary>
public sealed record ConnectInfo(string HostName, ConnectFamily Family, int Port, string Address)
{
    /// <summary>The client address, when the family is IPv4 or IPv6 and it parses ("IPv6:" prefixes removed).</summary>
    public IPAddress? IPAddress =>
        (Family is ConnectFamily.IPv4 or ConnectFamily.IPv6)
        && System.Net.IPAddress.TryParse(Address.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase) ? Address[5..] : Address, out var ip)
            ? ip : null;
}
