using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Milter.MailAuth.Dns;
using Milter.TestKit.Dns;

namespace Milter.MailAuth.Tests.Dns;

/// <summary>Knot on loopback with the zones of <see cref="DnsClientResolverKnotTests"/>, started once for the class.</summary>
public sealed class KnotZonesFixture : IAsyncLifetime
{
    public static readonly string DkimKeyRecord = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(NewRsaPublicKey());
    public const int ManyRecords = 200;

    public KnotDnsServer Knot { get; private set; } = null!;

    private static byte[] NewRsaPublicKey()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportSubjectPublicKeyInfo();
    }

    public async Task InitializeAsync()
    {
        var zone = new DnsZone("example.test")
            .A("www", "192.0.2.1", ttl: 120)
            .A("www", "192.0.2.2", ttl: 120)
            .Aaaa("www", "2001:db8::1")
            .Cname("alias", "www")
            .Mx("@", 10, "mx1.example.test.")
            .Mx("@", 20, "mx2.example.test.")
            .Mx("nullmx", 0, ".")
            .Txt("sel._domainkey", DkimKeyRecord)
            .Txt("@", "v=spf1 mx -all")
            .Txt("@", "second record");
        for (int i = 0; i < ManyRecords; i++)
            zone.Txt("many", $"record number {i:D3} " + new string('x', 200)); // 200 x ~220 bytes: far beyond one UDP datagram
        var reverse4 = DnsZone.ReverseV4("192.0.2").Ptr(IPAddress.Parse("192.0.2.1"), "www.example.test.");
        var reverse6 = new DnsZone("8.b.d.0.1.0.0.2.ip6.arpa").Ptr(IPAddress.Parse("2001:db8::1"), "www.example.test.");
        Knot = await KnotDnsServer.StartAsync([zone, reverse4, reverse6]);
    }

    public async Task DisposeAsync() => await Knot.DisposeAsync();
}

/// <summary><see cref="DnsClientResolver"/> against a real authoritative server (Knot) on loopback.</summary>
public sealed class DnsClientResolverKnotTests(KnotZonesFixture fixture) : IClassFixture<KnotZonesFixture>
{
    private DnsClientResolver Resolver() => new(new DnsResolverOptions
    {
        Servers = [$"127.0.0.1:{fixture.Knot.Port}"],
        Timeout = TimeSpan.FromSeconds(2),
    });

    [Fact]
    public async Task A_and_AAAA_with_ttl()
    {
        var a = await Resolver().GetAddressesAsync("www.example.test", false, default);
        Assert.Equal(DnsStatus.NoError, a.Status);
        Assert.Equal(new[] { IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2") }, a.Records.OrderBy(x => x.ToString()));
        Assert.Equal(TimeSpan.FromSeconds(120), a.Ttl);
        var aaaa = await Resolver().GetAddressesAsync("www.example.test", true, default);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), Assert.Single(aaaa.Records));
    }

    [Fact]
    public async Task Cname_is_followed()
    {
        var a = await Resolver().GetAddressesAsync("alias.example.test", false, default);
        Assert.Equal(2, a.Records.Count);
    }

    [Fact]
    public async Task Mx_exchanges_without_trailing_dot_and_null_mx()
    {
        var mx = await Resolver().GetMxAsync("example.test", default);
        Assert.Equal(new[] { new MxRecord(10, "mx1.example.test"), new MxRecord(20, "mx2.example.test") },
            mx.Records.OrderBy(r => r.Preference));
        var nullMx = await Resolver().GetMxAsync("nullmx.example.test", default);
        Assert.Equal(new MxRecord(0, ""), Assert.Single(nullMx.Records));
    }

    [Fact]
    public async Task Ptr_for_ipv4_and_ipv6()
    {
        var v4 = await Resolver().GetPtrAsync(IPAddress.Parse("192.0.2.1"), default);
        Assert.Equal("www.example.test", Assert.Single(v4.Records));
        var v6 = await Resolver().GetPtrAsync(IPAddress.Parse("2001:db8::1"), default);
        Assert.Equal("www.example.test", Assert.Single(v6.Records));
    }

    [Fact]
    public async Task Txt_of_a_2048_bit_key_split_in_several_strings_comes_back_joined()
    {
        Assert.True(DnsZone.SplitTxt(KnotZonesFixture.DkimKeyRecord).Count >= 2);
        var txt = await Resolver().GetTxtAsync("sel._domainkey.example.test", default);
        Assert.Equal(KnotZonesFixture.DkimKeyRecord, Assert.Single(txt.Records));
    }

    [Fact]
    public async Task Several_txt_records_stay_separate()
    {
        var txt = await Resolver().GetTxtAsync("example.test", default);
        Assert.Equal(new[] { "second record", "v=spf1 mx -all" }, txt.Records.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Truncated_udp_answer_is_retried_over_tcp_and_bounded()
    {
        var txt = await Resolver().GetTxtAsync("many.example.test", default);
        Assert.Equal(DnsStatus.NoError, txt.Status);
        // 50 records of ~220 bytes cannot fit the 4096-byte EDNS UDP payload: they came over TCP.
        Assert.Equal(new DnsResolverOptions().MaxRecordsPerAnswer, txt.Records.Count);
        Assert.All(txt.Records, r => Assert.StartsWith("record number ", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Nxdomain()
    {
        var txt = await Resolver().GetTxtAsync("nothere.example.test", default);
        Assert.Equal(DnsStatus.NxDomain, txt.Status);
        Assert.Empty(txt.Records);
        Assert.Equal(TimeSpan.FromSeconds(300), txt.Ttl); // SOA minimum of the test zone
    }

    [Fact]
    public async Task Nodata()
    {
        var txt = await Resolver().GetTxtAsync("www.example.test", default);
        Assert.Equal(DnsStatus.NoError, txt.Status);
        Assert.Empty(txt.Records);
        Assert.False(txt.IsTemporaryFailure);
    }

    [Fact]
    public async Task Refused_outside_the_served_zones_is_a_temporary_error()
    {
        var txt = await Resolver().GetTxtAsync("elsewhere.invalid", default);
        Assert.Equal(DnsStatus.Error, txt.Status);
        Assert.True(txt.IsTemporaryFailure);
    }

    [Fact]
    public async Task Concurrent_lookups_of_one_name_through_the_cache_send_one_query()
    {
        // A proxy in front of Knot counts the queries that reach the server.
        await using var proxy = await BlackholeDnsServer.StartAsync(new IPEndPoint(IPAddress.Loopback, fixture.Knot.Port), []);
        var resolver = DnsClientResolver.CreateCached(new DnsResolverOptions
        {
            Servers = [$"127.0.0.1:{proxy.Port}"],
            Timeout = TimeSpan.FromSeconds(2),
        }, TimeProvider.System);
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => resolver.GetTxtAsync("sel._domainkey.example.test", default))));
        Assert.All(answers, a => Assert.Equal(KnotZonesFixture.DkimKeyRecord, Assert.Single(a.Records)));
        Assert.Equal(1, proxy.QueriesForwarded);
    }

    [Fact]
    public async Task Server_that_never_answers_times_out_within_the_configured_time()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var resolver = new DnsClientResolver(new DnsResolverOptions
        {
            Servers = [$"127.0.0.1:{blackhole.Port}"],
            Timeout = TimeSpan.FromMilliseconds(300),
            Retries = 1,
        });
        var watch = Stopwatch.StartNew();
        var answer = await resolver.GetTxtAsync("example.test", default);
        watch.Stop();
        Assert.Equal(DnsStatus.Timeout, answer.Status);
        Assert.True(answer.IsTemporaryFailure);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.True(blackhole.QueriesSwallowed >= 2, $"expected a retry, saw {blackhole.QueriesSwallowed} queries");
    }

    [Fact]
    public async Task Caller_cancellation_is_not_turned_into_a_result()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var resolver = new DnsClientResolver(new DnsResolverOptions { Servers = [$"127.0.0.1:{blackhole.Port}"], Timeout = TimeSpan.FromSeconds(10) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => resolver.GetTxtAsync("example.test", cts.Token));
    }
}
