using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// Stores DMARC evaluations for aggregate reports in <c>DATA_DIR/dmarc-reports.sqlite</c>.
/// <see cref="TryEnqueue"/> never blocks and never throws: evaluations go into a bounded channel that one
/// background task drains, inserting each batch in one transaction. A full channel drops the evaluation (counted,
/// with a rate-limited warning); a database that cannot be opened or written is a rate-limited error line, the
/// batch is lost, and the file is opened again after <see cref="DmarcReportStoreOptions.RetryInterval"/>.
/// </summary>
public sealed class DmarcReportStore : IAsyncDisposable
{
    private readonly DmarcReportStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<DmarcEvaluationRecord> _channel;
    private readonly Task _writer;
    private readonly RateLimitedLog _errors;
    private readonly RateLimitedLog _drops;
    private DmarcReportDatabase? _db;
    private long _retryAt = long.MinValue;
    private long _written;
    private long _dropped;
    private long _lost;
    private volatile bool _disposed;

    public DmarcReportStore(string dataDirectory, ILogger logger, TimeProvider time)
        : this(dataDirectory, logger, time, new DmarcReportStoreOptions())
    {
    }

    public DmarcReportStore(string dataDirectory, ILogger logger, TimeProvider time, DmarcReportStoreOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatch, 1);
        DataDirectory = dataDirectory;
        DatabasePath = PathIn(dataDirectory);
        _options = options;
        _logger = logger;
        _time = time;
        _errors = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _drops = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _channel = Channel.CreateBounded<DmarcEvaluationRecord>(new BoundedChannelOptions(options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: refuse at once when full
            SingleReader = true,
            SingleWriter = false,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The database file inside a data directory.</summary>
    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, DmarcReportDatabase.FileName);

    public string DataDirectory { get; }
    public string DatabasePath { get; }

    /// <summary>Evaluations committed to the database.</summary>
    public long WrittenCount => Interlocked.Read(ref _written);

    /// <summary>Evaluations refused because the queue was full.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Evaluations lost because the database could not be opened or written.</summary>
    public long LostCount => Interlocked.Read(ref _lost);

    /// <summary>
    /// Queues an evaluation. Never blocks, never throws; false when the store is closed or its queue is full
    /// (the evaluation is dropped and counted).
    /// </summary>
    public bool TryEnqueue(DmarcEvaluationRecord? record)
    {
        if (record is null || _disposed)
            return false;
        if (_channel.Writer.TryWrite(record))
            return true;
        if (_channel.Reader.Completion.IsCompleted)
            return false;
        long dropped = Interlocked.Increment(ref _dropped);
        _drops.Log(LogLevel.Warning, null, $"DMARC report store queue full ({_options.Capacity}): evaluation dropped, {dropped} dropped so far.");
        return false;
    }

    /// <summary>Writes what is queued (waiting at most <see cref="DmarcReportStoreOptions.DisposeTimeout"/>), then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        _channel.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(_options.DisposeTimeout, _time);
        }
        catch (TimeoutException)
        {
            _logger.LogError("DMARC report store: queued evaluations not written within {Timeout} on shutdown.", _options.DisposeTimeout);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _channel.Reader;
        var batch = new List<DmarcEvaluationRecord>(_options.MaxBatch);
        try
        {
            while (await reader.WaitToReadAsync())
            {
                batch.Clear();
                while (batch.Count < _options.MaxBatch && reader.TryRead(out var record))
                    batch.Add(record);
                if (batch.Count > 0)
                    WriteBatch(batch);
            }
        }
        catch (Exception e)
        {
            // A bug, not an I/O condition: say so; from here on the queue fills and TryEnqueue drops (counted).
            _logger.LogError(e, "DMARC report store writer stopped.");
        }
        finally
        {
            Close();
        }
    }

    private void WriteBatch(List<DmarcEvaluationRecord> batch)
    {
        if (_db is null && !TryOpen())
        {
            Interlocked.Add(ref _lost, batch.Count);
            return;
        }
        try
        {
            _db!.Insert(batch);
            Interlocked.Add(ref _written, batch.Count);
        }
        catch (Exception e) when (IsStorageError(e))
        {
            Interlocked.Add(ref _lost, batch.Count);
            _errors.Log(LogLevel.Error, e, $"DMARC report store: cannot write {DatabasePath}: {e.Message}; {batch.Count} evaluation(s) lost, retrying in {_options.RetryInterval}.");
            Close();
            _retryAt = _time.GetTimestamp();
        }
    }

    private bool TryOpen()
    {
        if (_retryAt != long.MinValue && _time.GetElapsedTime(_retryAt) < _options.RetryInterval)
            return false;
        try
        {
            Directory.CreateDirectory(DataDirectory);
            _db = DmarcReportDatabase.Open(DatabasePath, create: true);
            _retryAt = long.MinValue;
            return true;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            _errors.Log(LogLevel.Error, e, $"DMARC report store: cannot open {DatabasePath}: {e.Message}; evaluations are lost until it opens (retry every {_options.RetryInterval}).");
            _retryAt = _time.GetTimestamp();
            return false;
        }
    }

    internal static bool IsStorageError(Exception e) =>
        e is SqliteException or IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException
            or ArgumentException or System.Security.SecurityException;

    private void Close()
    {
        try
        {
            _db?.Dispose();
        }
        catch (SqliteException e)
        {
            _errors.Log(LogLevel.Error, e, $"DMARC report store: closing {DatabasePath} failed: {e.Message}");
        }
        _db = null;
    }
}
