using System.Net;
using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Tests.Dns;

public sealed class DnsResolverOptionsTests
{
    [Theory]
    [InlineData("192.0.2.53", "192.0.2.53", 53)]
    [InlineData("192.0.2.53:5353", "192.0.2.53", 5353)]
    [InlineData("2001:db8::53", "2001:db8::53", 53)]
    [InlineData("[2001:db8::53]", "2001:db8::53", 53)]
    [InlineData("[::1]:5300", "::1", 5300)]
    [InlineData(" 127.0.0.1 ", "127.0.0.1", 53)]
    public void Servers_parse(string text, string address, int port)
    {
        Assert.True(DnsResolverOptions.TryParseServer(text, out var endPoint, out var error), error);
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endPoint);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("dns.example.com", "not an IP address")]
    [InlineData("192.0.2.53:0", "port")]
    [InlineData("192.0.2.53:70000", "port")]
    [InlineData("192.0.2.53:x", "port")]
    [InlineData("[2001:db8::53", "']'")]
    [InlineData("[2001:db8::53]x", "':PORT'")]
    [InlineData("fe80::1%eth0", "not an IP address")]
    public void Bad_servers_are_explained(string text, string expected)
    {
        Assert.False(DnsResolverOptions.TryParseServer(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_are_valid() => Assert.Empty(new DnsResolverOptions().Validate());

    [Fact]
    public void Every_problem_is_reported_with_its_setting()
    {
        var options = new DnsResolverOptions
        {
            Servers = ["192.0.2.1", "nameserver"],
            Timeout = TimeSpan.Zero,
            Retries = 9,
            CacheEntries = -1,
            MaxRecordsPerAnswer = 0,
        };
        var errors = options.Validate();
        Assert.Equal(5, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Dns:Servers entry \"nameserver\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Dns:TimeoutMs", StringComparison.Ordinal));
        var ex = Assert.Throws<ArgumentException>(() => new DnsClientResolver(options));
        Assert.Contains("Dns:Retries", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reverse_names()
    {
        Assert.Equal("4.3.2.1.in-addr.arpa", DnsNames.ReverseName(IPAddress.Parse("1.2.3.4")));
        Assert.Equal("1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
            DnsNames.ReverseName(IPAddress.Parse("2001:db8::cb01")));
    }
}
