using System.Diagnostics;
using DnsClient;
using Milter.TestKit.Dns;

namespace Milter.Tests.TestKit;

public sealed class BlackholeDnsServerTests
{
    [Fact]
    public async Task Every_query_times_out()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var client = new LookupClient(new LookupClientOptions(blackhole.EndPoint)
        {
            UseCache = false,
            Timeout = TimeSpan.FromMilliseconds(500),
            Retries = 0,
        });

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<DnsResponseException>(() => client.QueryAsync("sel._domainkey.example.test", QueryType.TXT));
        Assert.Equal(DnsResponseCode.ConnectionTimeout, error.Code);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));

        Assert.Null(await DnsProbe.QueryAsync(blackhole.EndPoint, "example.test", DnsProbe.TypeA, TimeSpan.FromMilliseconds(300)));
        Assert.True(blackhole.QueriesSwallowed >= 2);
    }
}
