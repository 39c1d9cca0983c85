using System.Diagnostics;
using DnsClient;
using Milter.TestKit.Dns;

namespace Milter.Tests.TestKit;

public sealed class BlackholeDnsServerTests
{
    private static LookupClient Client(BlackholeDnsServer server, bool tcpOnly = false) =>
        new(new LookupClientOptions(server.EndPoint)
        {
            UseCache = false,
            Recursion = false,
            Timeout = TimeSpan.FromMilliseconds(500),
            Retries = 0,
            UseTcpOnly = tcpOnly,
        });

    [Fact]
    public async Task Every_query_times_out()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<DnsResponseException>(() => Client(blackhole).QueryAsync("sel._domainkey.example.test", QueryType.TXT));
        Assert.Equal(DnsResponseCode.ConnectionTimeout, error.Code);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));

        Assert.Null(await DnsProbe.QueryAsync(blackhole.EndPoint, "example.test", DnsProbe.TypeA, TimeSpan.FromMilliseconds(300)));
        Assert.True(blackhole.QueriesSwallowed >= 2);
    }

    [Fact]
    public async Task As_a_proxy_only_the_named_subtree_times_out()
    {
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("example.test")
            .A("mail", "192.0.2.10")
            .Txt("slow", "v=spf1 -all")
            .A("deep.slow", "192.0.2.11"));
        await using var proxy = await BlackholeDnsServer.StartAsync(knot.EndPoint, ["slow.example.test"]);

        foreach (bool tcp in new[] { false, true })
        {
            var client = Client(proxy, tcp);
            var answered = await client.QueryAsync("mail.example.test", QueryType.A);
            Assert.Single(answered.Answers.ARecords());
            var nx = await client.QueryAsync("none.example.test", QueryType.A);
            Assert.Equal(DnsHeaderResponseCode.NotExistentDomain, nx.Header.ResponseCode);

            var timeout = await Assert.ThrowsAsync<DnsResponseException>(() => client.QueryAsync("slow.example.test", QueryType.TXT));
            Assert.Equal(DnsResponseCode.ConnectionTimeout, timeout.Code);
            await Assert.ThrowsAsync<DnsResponseException>(() => client.QueryAsync("DEEP.slow.example.test", QueryType.A));
        }
        Assert.Equal(4, proxy.QueriesForwarded);
        Assert.Equal(4, proxy.QueriesSwallowed);
    }
}
