using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

public class DkimKeyCacheTests
{
    private static readonly DkimKeyRecordResult Revoked = DkimKeyRecordResult.PermError("key revoked");

    [Fact]
    public void Entries_expire_after_the_time_to_live()
    {
        var clock = new MutableClock(1000);
        var cache = new DkimKeyCache(10, TimeSpan.FromSeconds(60), clock);
        cache.Set("a", Revoked);
        Assert.True(cache.TryGet("a", out DkimKeyRecordResult hit));
        Assert.Same(Revoked, hit);
        clock.Seconds += 59;
        Assert.True(cache.TryGet("a", out _));
        clock.Seconds += 1;
        Assert.False(cache.TryGet("a", out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Temporary_errors_are_not_stored()
    {
        var cache = new DkimKeyCache(10, TimeSpan.FromSeconds(60), new FixedTimeProvider(0));
        cache.Set("a", DkimKeyRecordResult.TempError("DNS timeout"));
        Assert.False(cache.TryGet("a", out _));
    }

    [Fact]
    public void The_cache_never_grows_beyond_its_size()
    {
        var clock = new MutableClock(0);
        var cache = new DkimKeyCache(100, TimeSpan.FromSeconds(60), clock);
        for (int i = 0; i < 1000; i++)
        {
            cache.Set("k" + i, Revoked);
            Assert.True(cache.Count <= 100);
        }
        Assert.True(cache.TryGet("k999", out _)); // the newest is always kept
        clock.Seconds += 61;
        cache.Set("fresh", Revoked);
        Assert.Equal(1, cache.Count); // expired entries go first
    }

    [Fact]
    public void Zero_size_disables_the_cache()
    {
        var cache = new DkimKeyCache(0, TimeSpan.FromSeconds(60), new FixedTimeProvider(0));
        cache.Set("a", Revoked);
        Assert.False(cache.TryGet("a", out _));
    }

    private sealed class MutableClock(long seconds) : TimeProvider
    {
        public long Seconds { get; set; } = seconds;

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeSeconds(Seconds);
    }
}
