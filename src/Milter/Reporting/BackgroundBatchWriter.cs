using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting;

/// <summary>The limits of a <see cref="BackgroundBatchWriter{T}"/>.</summary>
/// <param name="Capacity">Items waiting for the writer; when full, new ones are dropped (never waited for).</param>
/// <param name="MaxBatch">Most items handed to one write.</param>
/// <param name="LogInterval">Least time between two drop warnings.</param>
/// <param name="DisposeTimeout">Longest wait on dispose for the queued items to be written.</param>
internal sealed record BackgroundWriterLimits(int Capacity, int MaxBatch, TimeSpan LogInterval, TimeSpan DisposeTimeout);

/// <summary>
/// One background writer for a sink that must never hold the mail up (the verification log, the DMARC report store):
/// <see cref="TryEnqueue"/> never blocks and never throws; items go into a bounded channel that one task drains, handing
/// the sink batches of at most <see cref="BackgroundWriterLimits.MaxBatch"/>. A full channel drops the item (counted,
/// with a rate-limited warning). On dispose what is queued is written (waiting at most
/// <see cref="BackgroundWriterLimits.DisposeTimeout"/>), then the sink's close runs on the writer task.
/// The sink counts what it writes and loses; an exception out of it is a bug: logged, and the writer stops.
/// </summary>
internal sealed class BackgroundBatchWriter<T> : IAsyncDisposable where T : class
{
    private readonly string _name;
    private readonly string _itemName;
    private readonly BackgroundWriterLimits _limits;
    private readonly Action<IReadOnlyList<T>> _write;
    private readonly Action _close;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<T> _channel;
    private readonly RateLimitedLog _drops;
    private readonly Task _writer;
    private long _dropped;
    private volatile bool _disposed;

    /// <param name="name">What the sink is called in log lines ("Verification log").</param>
    /// <param name="itemName">What an item is called in log lines ("record").</param>
    /// <param name="write">Writes one batch; runs on the writer task only.</param>
    /// <param name="close">Runs once on the writer task when it ends.</param>
    public BackgroundBatchWriter(string name, string itemName, BackgroundWriterLimits limits, Action<IReadOnlyList<T>> write, Action close,
        ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(write);
        ArgumentNullException.ThrowIfNull(close);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.Capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.MaxBatch, 1);
        _name = name;
        _itemName = itemName;
        _limits = limits;
        _write = write;
        _close = close;
        _logger = logger;
        _time = time;
        _drops = new RateLimitedLog(logger, time, limits.LogInterval);
        _channel = Channel.CreateBounded<T>(new BoundedChannelOptions(limits.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: refuse at once when full
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Items waiting for the writer now.</summary>
    public int QueueDepth => _channel.Reader.Count;

    /// <summary>Items refused because the queue was full.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Queues an item. Never blocks, never throws; false when closed or full (the item is dropped and counted).</summary>
    public bool TryEnqueue(T? item)
    {
        if (item is null || _disposed)
            return false;
        if (_channel.Writer.TryWrite(item))
            return true;
        if (_channel.Reader.Completion.IsCompleted || _disposed)
            return false;
        long dropped = Interlocked.Increment(ref _dropped);
        _drops.Log(LogLevel.Warning, null, $"{_name} queue full ({_limits.Capacity}): {_itemName} dropped, {dropped} dropped so far.");
        return false;
    }

    /// <summary>Writes what is queued (waiting at most <see cref="BackgroundWriterLimits.DisposeTimeout"/>), then closes the sink.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        _channel.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(_limits.DisposeTimeout, _time);
        }
        catch (TimeoutException)
        {
            _logger.LogError("{Name}: queued {Item}s not written within {Timeout} on shutdown.", _name, _itemName, _limits.DisposeTimeout);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _channel.Reader;
        var batch = new List<T>(Math.Min(_limits.MaxBatch, 1024));
        try
        {
            while (await reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < _limits.MaxBatch && reader.TryRead(out var item))
                    batch.Add(item);
                if (batch.Count > 0)
                    _write(batch);
            }
        }
        catch (Exception e)
        {
            // A bug, not an I/O condition (the sink handles those): say so; from here on the queue fills and drops (counted).
            _logger.LogError(e, "{Name} writer stopped.", _name);
        }
        finally
        {
            _close();
        }
    }
}
