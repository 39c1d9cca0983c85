using Milter.Protocol.Server;

namespace Milter.Protocol.Tests;

public sealed class LogRateLimiterTests
{
    private sealed class ManualTime : TimeProvider
    {
        public long Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Ticks;
    }

    [Fact]
    public void Lines_past_the_limit_are_counted_and_reported_once_when_the_interval_ends()
    {
        var logs = new ListLoggerFactory();
        var time = new ManualTime();
        using var limiter = new LogRateLimiter(logs.CreateLogger("x"), 3, TimeSpan.FromSeconds(10), time);
        var allowed = Enumerable.Range(0, 100).Count(_ => limiter.Allow("bad frame"));
        Assert.Equal(3, allowed);
        Assert.True(limiter.Allow("other cause"));
        Assert.Equal(97, limiter.Suppressed("bad frame"));
        Assert.Empty(logs.Lines);

        time.Ticks += TimeSpan.FromSeconds(11).Ticks;
        Assert.True(limiter.Allow("bad frame"));
        var line = Assert.Single(logs.Lines);
        Assert.Contains("bad frame: 97 similar line(s) suppressed", line.Message, StringComparison.Ordinal);
        Assert.Equal(0, limiter.Suppressed("bad frame"));
    }

    [Fact]
    public void Flush_reports_a_cause_that_went_quiet_and_dispose_reports_the_rest()
    {
        var logs = new ListLoggerFactory();
        var time = new ManualTime();
        var limiter = new LogRateLimiter(logs.CreateLogger("x"), 1, TimeSpan.FromSeconds(10), time);
        for (var i = 0; i < 5; i++) limiter.Allow("refused");
        limiter.Flush();
        Assert.Empty(logs.Lines); // the interval has not ended
        time.Ticks += TimeSpan.FromSeconds(10).Ticks;
        limiter.Flush();
        Assert.Contains("refused: 4 similar", Assert.Single(logs.Lines).Message, StringComparison.Ordinal);
        for (var i = 0; i < 3; i++) limiter.Allow("refused");
        limiter.Dispose();
        Assert.Contains(logs.Lines, l => l.Message.Contains("refused: 2 similar", StringComparison.Ordinal));
    }
}
