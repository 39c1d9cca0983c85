using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// Stores DMARC evaluations for aggregate reports in <c>DATA_DIR/dmarc-reports.sqlite</c>.
/// <see cref="TryEnqueue"/> never blocks and never throws: evaluations go to a <see cref="BackgroundBatchWriter{T}"/>
/// that inserts each batch in one transaction. A full queue drops the evaluation (counted, with a rate-limited warning);
/// a database that cannot be opened or written is a rate-limited error line, the batch is lost, and the file is opened
/// again after <see cref="DmarcReportStoreOptions.RetryInterval"/>.
/// </summary>
public sealed class DmarcReportStore : IAsyncDisposable
{
    private readonly DmarcReportStoreOptions _options;
    private readonly BackgroundBatchWriter<DmarcEvaluationRecord> _writer;
    private readonly RateLimitedLog _errors;
    private readonly RetryDelay _retry;
    private DmarcReportDatabase? _db;
    private long _written;
    private long _lost;

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
        DataDirectory = dataDirectory;
        DatabasePath = PathIn(dataDirectory);
        _options = options;
        _errors = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _retry = new RetryDelay(time, options.RetryInterval);
        _writer = new BackgroundBatchWriter<DmarcEvaluationRecord>("DMARC report store", "evaluation",
            new BackgroundWriterLimits(options.Capacity, options.MaxBatch, options.ErrorLogInterval, options.DisposeTimeout),
            WriteBatch, Close, logger, time);
    }

    /// <summary>The database file inside a data directory.</summary>
    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, DmarcReportDatabase.FileName);

    public string DataDirectory { get; }
    public string DatabasePath { get; }

    /// <summary>Evaluations committed to the database.</summary>
    public long WrittenCount => Interlocked.Read(ref _written);

    /// <summary>Evaluations refused because the queue was full.</summary>
    public long DroppedCount => _writer.DroppedCount;

    /// <summary>Evaluations waiting to be stored.</summary>
    public int QueueDepth => _writer.QueueDepth;

    /// <summary>Evaluations lost because the database could not be opened or written.</summary>
    public long LostCount => Interlocked.Read(ref _lost);

    /// <summary>
    /// Queues an evaluation. Never blocks, never throws; false when the store is closed or its queue is full
    /// (the evaluation is dropped and counted).
    /// </summary>
    public bool TryEnqueue(DmarcEvaluationRecord? record) => _writer.TryEnqueue(record);

    /// <summary>Writes what is queued (waiting at most <see cref="DmarcReportStoreOptions.DisposeTimeout"/>), then closes the file.</summary>
    public ValueTask DisposeAsync() => _writer.DisposeAsync();

    private void WriteBatch(IReadOnlyList<DmarcEvaluationRecord> batch)
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
            _retry.Failed();
        }
    }

    private bool TryOpen()
    {
        if (!_retry.Due)
            return false;
        try
        {
            Directory.CreateDirectory(DataDirectory);
            _db = DmarcReportDatabase.Open(DatabasePath, create: true);
            _retry.Succeeded();
            return true;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            _errors.Log(LogLevel.Error, e, $"DMARC report store: cannot open {DatabasePath}: {e.Message}; evaluations are lost until it opens (retry every {_options.RetryInterval}).");
            _retry.Failed();
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
