using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Milter.Reporting;

namespace Milter.Tests.Reporting;

/// <summary>Issue 21 item 6: the one background writer of the verification log and the DMARC report store.</summary>
public sealed class BackgroundBatchWriterTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private readonly CollectingLogger<BackgroundBatchWriterTests> _logger = new();
    private readonly ConcurrentQueue<string[]> _batches = new();
    private int _closed;

    /// <summary>A clock that moves only when told (timers are the system's).</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private BackgroundBatchWriter<string> Writer(int capacity, int maxBatch, Action<IReadOnlyList<string>>? hook = null,
        TimeProvider? time = null, TimeSpan? disposeTimeout = null)
        => new("Test sink", "item", new BackgroundWriterLimits(capacity, maxBatch, TimeSpan.FromMinutes(1), disposeTimeout ?? Long),
            batch =>
            {
                _batches.Enqueue(batch.ToArray());
                hook?.Invoke(batch);
            },
            () => Interlocked.Increment(ref _closed), _logger, time ?? TimeProvider.System);

    [Fact]
    public async Task QueuedItems_ReachTheSinkInBatchesOfAtMostMaxBatch_InOrder()
    {
        using var firstHeld = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var writer = Writer(100, 4, _ =>
        {
            if (_batches.Count == 1)
            {
                firstHeld.Set();
                release.Wait(Long);
            }
        });
        Assert.True(writer.TryEnqueue("0"));
        Assert.True(firstHeld.Wait(Long), "the first item never reached the sink");
        for (int i = 1; i < 10; i++)
            Assert.True(writer.TryEnqueue(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        release.Set();
        await writer.DisposeAsync();

        Assert.Equal([["0"], ["1", "2", "3", "4"], ["5", "6", "7", "8"], ["9"]], _batches.ToArray());
        Assert.Equal(1, _closed);
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public async Task FullQueue_DropsAtOnce_CountsEveryDrop_AndWarnsRateLimited()
    {
        var clock = new ManualClock();
        using var firstHeld = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var writer = Writer(2, 1, batch =>
        {
            if (batch[0] == "held")
            {
                firstHeld.Set();
                release.Wait(Long);
            }
        }, clock);
        try
        {
            Assert.True(writer.TryEnqueue("held"));
            Assert.True(firstHeld.Wait(Long), "the first item never reached the sink");
            Assert.True(writer.TryEnqueue("a"));
            Assert.True(writer.TryEnqueue("b"));
            var refused = await Task.Run(() => new[] { writer.TryEnqueue("c"), writer.TryEnqueue("d"), writer.TryEnqueue("e") }).WaitAsync(Long);
            Assert.Equal([false, false, false], refused);
            Assert.Equal(3, writer.DroppedCount);
            var first = Assert.Single(_logger.Entries);
            Assert.Equal((LogLevel.Warning, "Test sink queue full (2): item dropped, 1 dropped so far."), (first.Level, first.Message));

            clock.Advance(TimeSpan.FromMinutes(2));
            Assert.False(writer.TryEnqueue("f"));
            Assert.Equal(4, writer.DroppedCount);
            Assert.Equal(2, _logger.Entries.Count);
            Assert.Equal("Test sink queue full (2): item dropped, 4 dropped so far. (2 similar messages suppressed)", _logger.Entries.Last().Message);
        }
        finally
        {
            release.Set();
            await writer.DisposeAsync();
        }
        Assert.Equal(["held", "a", "b"], _batches.SelectMany(b => b));
    }

    [Fact]
    public async Task Dispose_WritesEverythingQueued_ThenCloses_ThenRefuses()
    {
        var writer = Writer(1000, 10, _ => Thread.Sleep(10));
        var items = Enumerable.Range(0, 200).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var item in items)
            Assert.True(writer.TryEnqueue(item));
        await writer.DisposeAsync();

        Assert.Equal(items, _batches.SelectMany(b => b));
        Assert.All(_batches, b => Assert.InRange(b.Length, 1, 10));
        Assert.Equal(1, _closed);
        Assert.False(writer.TryEnqueue("late"));
        Assert.Equal(0, writer.DroppedCount);
        await writer.DisposeAsync(); // twice is harmless
        Assert.Equal(1, _closed);
    }

    [Fact]
    public async Task Dispose_WaitsAtMostTheDisposeTimeout_AndSaysSo()
    {
        using var release = new ManualResetEventSlim();
        var writer = Writer(10, 1, _ => release.Wait(Long), disposeTimeout: TimeSpan.FromMilliseconds(200));
        try
        {
            Assert.True(writer.TryEnqueue("stuck"));
            await writer.DisposeAsync().AsTask().WaitAsync(Long);
            var error = Assert.Single(_logger.Entries, e => e.Level == LogLevel.Error);
            Assert.StartsWith("Test sink: queued items not written within", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task AnExceptionFromTheSink_IsLogged_AndTheSinkStillCloses()
    {
        var writer = Writer(10, 1, _ => throw new InvalidOperationException("bug"));
        Assert.True(writer.TryEnqueue("x"));
        await writer.DisposeAsync();
        var error = Assert.Single(_logger.Entries);
        Assert.Equal((LogLevel.Error, "Test sink writer stopped."), (error.Level, error.Message));
        Assert.Equal(1, _closed);
    }
}
