using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting;

/// <summary>
/// The verification log: one JSON line per message appended to <see cref="VerificationLogOptions.Path"/>.
/// <see cref="TryWrite"/> never blocks and never throws: records go to a <see cref="BackgroundBatchWriter{T}"/> that
/// writes them in batches (write, then flush). A full queue drops the record (counted, with a rate-limited warning); a
/// file that cannot be opened or written is a rate-limited error line, the batch is lost, and the file is opened again
/// after <see cref="VerificationLogOptions.RetryInterval"/>. The mail itself is never affected.
/// </summary>
public sealed class VerificationLog : IAsyncDisposable
{
    private const string Name = "Verification log";
    private readonly VerificationLogOptions _options;
    private readonly BackgroundBatchWriter<VerificationRecord>? _writer;
    private readonly RateLimitedLog _errors;
    private readonly RetryDelay _retry;
    private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "Closed by CloseFile, which the background writer calls when DisposeAsync has written the last batch.")]
    private FileStream? _file;
    private volatile bool _reopen;
    private long _written;
    private long _lost;

    public VerificationLog(VerificationLogOptions options, ILogger<VerificationLog> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _errors = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _retry = new RetryDelay(time, options.RetryInterval);
        if (string.IsNullOrEmpty(options.Path))
            return;
        _writer = new BackgroundBatchWriter<VerificationRecord>(Name, "record",
            new BackgroundWriterLimits(options.Capacity, options.MaxBatch, options.ErrorLogInterval, options.DisposeTimeout),
            WriteBatch, CloseFile, logger, time);
    }

    /// <summary>Whether a path is configured.</summary>
    public bool Enabled => _writer is not null;

    /// <summary>Records written and flushed to the file.</summary>
    public long WrittenCount => Interlocked.Read(ref _written);

    /// <summary>Records refused because the queue was full.</summary>
    public long DroppedCount => _writer?.DroppedCount ?? 0;

    /// <summary>Records waiting to be written.</summary>
    public int QueueDepth => _writer?.QueueDepth ?? 0;

    /// <summary>Records lost because the file could not be opened or written.</summary>
    public long LostCount => Interlocked.Read(ref _lost);

    /// <summary>
    /// Queues a record for the log. Never blocks, never throws; false when the log is off, closed, or
    /// its queue is full (the record is dropped and counted).
    /// </summary>
    public bool TryWrite(VerificationRecord record) => _writer?.TryEnqueue(record) ?? false;

    /// <summary>Closes the file and opens the path again before the next batch (after log rotation).</summary>
    public void Reopen() => _reopen = true;

    /// <summary>Writes what is queued (waiting at most <see cref="VerificationLogOptions.DisposeTimeout"/>), then closes the file.</summary>
    public ValueTask DisposeAsync() => _writer?.DisposeAsync() ?? ValueTask.CompletedTask;

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

    private void WriteBatch(IReadOnlyList<VerificationRecord> records)
    {
        int count = 0;
        _buffer.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_buffer))
        {
            foreach (var record in records)
            {
                if (Serialize(json, record))
                    count++;
            }
        }
        if (count > 0)
            WriteLines(count);
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

    private void WriteLines(int count)
    {
        if (_reopen)
        {
            _reopen = false;
            CloseFile();
            _retry.Succeeded();
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
            _retry.Failed();
        }
    }

    private bool TryOpen()
    {
        if (!_retry.Due)
            return false;
        try
        {
            _file = new FileStream(_options.Path!, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            _retry.Succeeded();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException or System.Security.SecurityException)
        {
            _errors.Log(LogLevel.Error, e, $"Verification log: cannot open {_options.Path}: {e.Message}; records are lost until it opens (retry every {_options.RetryInterval}).");
            _retry.Failed();
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
