using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting;

/// <summary>
/// The verification log: one JSON line per message appended to <see cref="VerificationLogOptions.Path"/>.
/// <see cref="TryWrite"/> never blocks and never throws: records go into a bounded channel that one
/// background task drains in batches (write, then flush). A full channel drops the record (counted, with
/// a rate-limited warning); a file that cannot be opened or written is a rate-limited error line, the
/// batch is lost, and the file is opened again after <see cref="VerificationLogOptions.RetryInterval"/>.
/// The mail itself is never affected.
/// </summary>
public sealed class VerificationLog : IAsyncDisposable
{
    private readonly VerificationLogOptions _options;
    private readonly ILogger<VerificationLog> _logger;
    private readonly TimeProvider _time;
    private readonly Channel<VerificationRecord>? _channel;
    private readonly Task _writer = Task.CompletedTask;
    private readonly RateLimitedLog _errors;
    private readonly RateLimitedLog _drops;
    private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private FileStream? _file;
    private long _retryAt = long.MinValue;
    private volatile bool _reopen;
    private long _written;
    private long _dropped;
    private long _lost;

    public VerificationLog(VerificationLogOptions options, ILogger<VerificationLog> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatch, 1);
        _options = options;
        _logger = logger;
        _time = time;
        _errors = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _drops = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        if (string.IsNullOrEmpty(options.Path))
            return;

        _channel = Channel.CreateBounded<VerificationRecord>(new BoundedChannelOptions(options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: refuse at once when full
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Whether a path is configured.</summary>
    public bool Enabled => _channel is not null;

    /// <summary>Records written and flushed to the file.</summary>
    public long WrittenCount => Interlocked.Read(ref _written);

    /// <summary>Records refused because the queue was full.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Records lost because the file could not be opened or written.</summary>
    public long LostCount => Interlocked.Read(ref _lost);

    /// <summary>
    /// Queues a record for the log. Never blocks, never throws; false when the log is off, closed, or
    /// its queue is full (the record is dropped and counted).
    /// </summary>
    public bool TryWrite(VerificationRecord record)
    {
        if (_channel is null || record is null)
            return false;
        if (_channel.Writer.TryWrite(record))
            return true;
        if (_channel.Reader.Completion.IsCompleted || _disposed)
            return false;
        long dropped = Interlocked.Increment(ref _dropped);
        _drops.Log(LogLevel.Warning, null, $"Verification log queue full ({_options.Capacity}): record dropped, {dropped} dropped so far.");
        return false;
    }

    /// <summary>Closes the file and opens the path again before the next batch (after log rotation).</summary>
    public void Reopen() => _reopen = true;

    private volatile bool _disposed;

    /// <summary>Writes what is queued (waiting at most <see cref="VerificationLogOptions.DisposeTimeout"/>), then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_channel is null)
            return;
        _channel.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(_options.DisposeTimeout, _time);
        }
        catch (TimeoutException)
        {
            _logger.LogError("Verification log: queued records not written within {Timeout} on shutdown.", _options.DisposeTimeout);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _channel!.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                int count = 0;
                _buffer.ResetWrittenCount();
                using (var json = new Utf8JsonWriter(_buffer))
                {
                    while (count < _options.MaxBatch && reader.TryRead(out var record))
                    {
                        if (!Serialize(json, record))
                            continue;
                        count++;
                    }
                }
                if (count > 0)
                    WriteBatch(count);
            }
        }
        catch (Exception e)
        {
            // A bug, not an I/O condition: say so; from here on the queue fills and TryWrite drops (counted).
            _logger.LogError(e, "Verification log writer stopped.");
        }
        finally
        {
            CloseFile();
        }
    }

    /// <summary>The record as the one JSON line the log file gets (for the console log at debug level).</summary>
    public static string ToJson(VerificationRecord record)
    {
        try
        {
            return JsonSerializer.Serialize(record, VerificationLogJsonContext.Default.VerificationRecord);
        }
        catch (ArgumentException e)
        {
            return "{\"error\":\"" + e.GetType().Name + "\"}";
        }
    }

    private bool Serialize(Utf8JsonWriter json, VerificationRecord record)
    {
        try
        {
            JsonSerializer.Serialize(json, record, VerificationLogJsonContext.Default.VerificationRecord);
            json.Flush();
            json.Reset();
            _buffer.Write("\n"u8);
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            json.Reset();
            Interlocked.Increment(ref _lost);
            _errors.Log(LogLevel.Error, e, "Verification log: a record could not be serialised.");
            return false;
        }
    }

    private void WriteBatch(int count)
    {
        if (_reopen)
        {
            _reopen = false;
            CloseFile();
            _retryAt = long.MinValue;
        }
        if (_file is null && !TryOpen())
        {
            Interlocked.Add(ref _lost, count);
            return;
        }
        try
        {
            _file!.Write(_buffer.WrittenSpan);
            _file.Flush();
            Interlocked.Add(ref _written, count);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ObjectDisposedException)
        {
            Interlocked.Add(ref _lost, count);
            _errors.Log(LogLevel.Error, e, $"Verification log: cannot write {_options.Path}: {e.Message}; {count} record(s) lost, retrying in {_options.RetryInterval}.");
            CloseFile();
            _retryAt = _time.GetTimestamp();
        }
    }

    private bool TryOpen()
    {
        if (_retryAt != long.MinValue && _time.GetElapsedTime(_retryAt) < _options.RetryInterval)
            return false;
        try
        {
            _file = new FileStream(_options.Path!, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            _retryAt = long.MinValue;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException or System.Security.SecurityException)
        {
            _errors.Log(LogLevel.Error, e, $"Verification log: cannot open {_options.Path}: {e.Message}; records are lost until it opens (retry every {_options.RetryInterval}).");
            _retryAt = _time.GetTimestamp();
            return false;
        }
    }

    private void CloseFile()
    {
        try
        {
            _file?.Dispose();
        }
        catch (IOException e)
        {
            _errors.Log(LogLevel.Error, e, $"Verification log: closing {_options.Path} failed: {e.Message}");
        }
        _file = null;
    }
}
