using System.Net;
using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Tests.Dns;

public sealed class CachingDnsResolverTests
{
    /// <summary>An in-memory DNS whose answers the test sets, counting the queries that reach it.</summary>
    private sealed class TableResolver : IDnsResolver
    {
        public Dictionary<string, DnsAnswer<string>> Txt { get; } = new(StringComparer.OrdinalIgnoreCase);
        public int Queries { get; private set; }

        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken ct)
        {
            Queries++;
            return Task.FromResult(Txt.TryGetValue(name, out var a) ? a : DnsAnswer<string>.NxDomain);
        }

        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken ct)
        {
            Queries++;
            return Task.FromResult(ipv6 ? DnsAnswer<IPAddress>.NoData : DnsAnswer<IPAddress>.Of(IPAddress.Parse("192.0.2.1")) with { Ttl = TimeSpan.FromSeconds(30) });
        }

        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken ct)
        {
            Queries++;
            return Task.FromResult(DnsAnswer<MxRecord>.NoData);
        }

        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken ct)
        {
            Queries++;
            return Task.FromResult(DnsAnswer<string>.Of("host.example"));
        }
    }

    private static readonly DnsResolverOptions Options = new()
    {
        CacheEntries = 3,
        MinimumCacheTtl = TimeSpan.FromSeconds(10),
        MaximumCacheTtl = TimeSpan.FromMinutes(10),
        NegativeCacheTtl = TimeSpan.FromSeconds(20),
    };

    private readonly TableResolver _inner = new();
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private CachingDnsResolver Cache(DnsResolverOptions? options = null) => new(_inner, options ?? Options, _time);

    [Fact]
    public async Task Positive_answer_is_kept_for_its_ttl()
    {
        _inner.Txt["a.example"] = DnsAnswer<string>.Of("v=spf1 -all") with { Ttl = TimeSpan.FromSeconds(60) };
        var cache = Cache();
        Assert.Equal("v=spf1 -all", (await cache.GetTxtAsync("a.example", default)).Records[0]);
        _time.Advance(TimeSpan.FromSeconds(59));
        await cache.GetTxtAsync("A.EXAMPLE", default);
        Assert.Equal(1, _inner.Queries);
        _time.Advance(TimeSpan.FromSeconds(2));
        await cache.GetTxtAsync("a.example", default);
        Assert.Equal(2, _inner.Queries);
    }

    [Fact]
    public async Task Ttl_is_clamped_to_minimum_and_maximum()
    {
        _inner.Txt["short.example"] = DnsAnswer<string>.Of("x") with { Ttl = TimeSpan.Zero };
        _inner.Txt["long.example"] = DnsAnswer<string>.Of("y") with { Ttl = TimeSpan.FromDays(7) };
        var cache = Cache();
        await cache.GetTxtAsync("short.example", default);
        await cache.GetTxtAsync("long.example", default);
        _time.Advance(TimeSpan.FromSeconds(9));
        await cache.GetTxtAsync("short.example", default); // minimum 10 s
        Assert.Equal(2, _inner.Queries);
        _time.Advance(TimeSpan.FromSeconds(2));
        await cache.GetTxtAsync("short.example", default);
        Assert.Equal(3, _inner.Queries);
        _time.Advance(TimeSpan.FromMinutes(10)); // maximum 10 min
        await cache.GetTxtAsync("long.example", default);
        Assert.Equal(4, _inner.Queries);
    }

    [Fact]
    public async Task Nxdomain_is_kept_briefly()
    {
        var cache = Cache();
        Assert.Equal(DnsStatus.NxDomain, (await cache.GetTxtAsync("missing.example", default)).Status);
        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.Equal(DnsStatus.NxDomain, (await cache.GetTxtAsync("missing.example", default)).Status);
        Assert.Equal(1, _inner.Queries);
        _time.Advance(TimeSpan.FromSeconds(2));
        await cache.GetTxtAsync("missing.example", default);
        Assert.Equal(2, _inner.Queries);
    }

    [Fact]
    public async Task Temporary_failures_are_never_kept()
    {
        _inner.Txt["down.example"] = DnsAnswer<string>.TimedOut;
        _inner.Txt["broken.example"] = new DnsAnswer<string>(DnsStatus.ServerFailure, Array.Empty<string>(), "SERVFAIL") { Ttl = TimeSpan.FromHours(1) };
        var cache = Cache();
        await cache.GetTxtAsync("down.example", default);
        await cache.GetTxtAsync("down.example", default);
        await cache.GetTxtAsync("broken.example", default);
        await cache.GetTxtAsync("broken.example", default);
        Assert.Equal(4, _inner.Queries);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task Entries_are_bounded_least_recently_used_first()
    {
        foreach (var n in new[] { "1", "2", "3", "4" })
            _inner.Txt[n + ".example"] = DnsAnswer<string>.Of(n) with { Ttl = TimeSpan.FromMinutes(5) };
        var cache = Cache();
        await cache.GetTxtAsync("1.example", default);
        await cache.GetTxtAsync("2.example", default);
        await cache.GetTxtAsync("3.example", default);
        await cache.GetTxtAsync("1.example", default); // 1 is now the most recent; 2 the least
        await cache.GetTxtAsync("4.example", default); // evicts 2
        Assert.Equal(3, cache.Count);
        Assert.Equal(4, _inner.Queries);
        await cache.GetTxtAsync("1.example", default);
        await cache.GetTxtAsync("3.example", default);
        Assert.Equal(4, _inner.Queries);
        await cache.GetTxtAsync("2.example", default);
        Assert.Equal(5, _inner.Queries);
    }

    [Fact]
    public async Task Query_types_are_cached_separately()
    {
        var cache = Cache(Options with { CacheEntries = 10 });
        await cache.GetAddressesAsync("h.example", false, default);
        await cache.GetAddressesAsync("h.example", true, default);
        await cache.GetMxAsync("h.example", default);
        await cache.GetPtrAsync(IPAddress.Parse("192.0.2.1"), default);
        await cache.GetAddressesAsync("h.example", false, default);
        await cache.GetPtrAsync(IPAddress.Parse("192.0.2.1"), default);
        Assert.Equal(4, _inner.Queries);
    }

    /// <summary>Answers TXT queries only when the test releases them, counting the queries that reach it.</summary>
    private sealed class GatedResolver : IDnsResolver
    {
        private int _queries;
        public TaskCompletionSource<DnsAnswer<string>> Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Queries => Volatile.Read(ref _queries);

        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken ct)
        {
            Interlocked.Increment(ref _queries);
            return Gate.Task;
        }

        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken ct) => throw new NotSupportedException();
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken ct) => throw new NotSupportedException();
        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken ct) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Callers_share_a_query_in_flight_and_each_stops_waiting_at_its_own_cancellation()
    {
        var inner = new GatedResolver();
        var cache = new CachingDnsResolver(inner, Options, _time);
        using var impatient = new CancellationTokenSource();
        var waiting = Enumerable.Range(0, 5).Select(_ => cache.GetTxtAsync("k._domainkey.example", default)).ToList();
        var cancelled = cache.GetTxtAsync("K._domainkey.example", impatient.Token);
        Assert.Equal(1, inner.Queries);

        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        inner.Gate.SetResult(DnsAnswer<string>.Of("v=DKIM1; p=") with { Ttl = TimeSpan.FromSeconds(60) });
        foreach (var answer in await Task.WhenAll(waiting))
            Assert.Equal("v=DKIM1; p=", answer.Records[0]);
        await cache.GetTxtAsync("k._domainkey.example", default); // now cached
        Assert.Equal(1, inner.Queries);
    }

    [Fact]
    public async Task A_temporary_failure_in_flight_is_shared_but_not_kept()
    {
        var inner = new GatedResolver();
        var cache = new CachingDnsResolver(inner, Options, _time);
        var first = cache.GetTxtAsync("a.example", default);
        var second = cache.GetTxtAsync("a.example", default);
        inner.Gate.SetResult(DnsAnswer<string>.TimedOut);
        Assert.Same(await first, await second);
        _ = cache.GetTxtAsync("a.example", default);
        Assert.Equal(2, inner.Queries);
    }

    [Fact]
    public async Task Zero_entries_turns_the_cache_off()
    {
        _inner.Txt["a.example"] = DnsAnswer<string>.Of("x") with { Ttl = TimeSpan.FromMinutes(5) };
        var cache = Cache(Options with { CacheEntries = 0 });
        await cache.GetTxtAsync("a.example", default);
        await cache.GetTxtAsync("a.example", default);
        Assert.Equal(2, _inner.Queries);
    }
}
