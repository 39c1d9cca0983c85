using System.Net;
using Milter.Shared;

namespace Milter.Protocol;

public enum ConnectFamily { Unknown, Unix, IPv4, IPv6 }

/// <summary>SMFIC_CONNECT: the SMTP client as the MTA saw it.</summary>
public sealed record ConnectInfo(string HostName, ConnectFamily Family, int Port, string Address)
{
    /// <summary>The client address, when the family is IPv4 or IPv6 and it is a strict dotted quad or RFC 4291 text
    /// ("IPv6:" prefixes removed; <see cref="IpAddressText"/>: no inet_aton forms such as "1.2.3").</summary>
    public IPAddress? IPAddress =>
        (Family is ConnectFamily.IPv4 or ConnectFamily.IPv6)
        && IpAddressText.TryParse(Address.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase) ? Address.AsSpan(5) : Address, out var ip)
            ? ip : null;
}
