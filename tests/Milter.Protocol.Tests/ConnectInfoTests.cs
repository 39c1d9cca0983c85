using System.Net;

namespace Milter.Protocol.Tests;

/// <summary>The client address of SMFIC_CONNECT is read strictly (issue 13 defect 9).</summary>
public class ConnectInfoTests
{
    [Theory]
    [InlineData(ConnectFamily.IPv4, "192.0.2.1", "192.0.2.1")]
    [InlineData(ConnectFamily.IPv6, "IPv6:2001:db8::1", "2001:db8::1")]
    [InlineData(ConnectFamily.IPv6, "2001:db8::1", "2001:db8::1")]
    [InlineData(ConnectFamily.IPv6, "::ffff:192.0.2.1", "::ffff:192.0.2.1")]
    [InlineData(ConnectFamily.IPv4, "1.2.3", null)]
    [InlineData(ConnectFamily.IPv4, "0x7f.1", null)]
    [InlineData(ConnectFamily.IPv4, "2130706433", null)]
    [InlineData(ConnectFamily.IPv4, "127.000.000.001", null)]
    [InlineData(ConnectFamily.IPv6, "fe80::1%eth0", null)]
    [InlineData(ConnectFamily.IPv6, "[2001:db8::1]", null)]
    [InlineData(ConnectFamily.IPv6, "2001:db8::1.2.3", null)]
    [InlineData(ConnectFamily.Unix, "192.0.2.1", null)]
    public void Only_dotted_quads_and_rfc_4291_text_are_addresses(ConnectFamily family, string address, string? expected)
    {
        var ip = new ConnectInfo("client", family, 25, address).IPAddress;
        Assert.Equal(expected is null ? null : IPAddress.Parse(expected), ip);
    }
}
