using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// Stores DMARC evaluations for aggregate reports in the report store (<see cref="ReportStoreLocation"/>: the SQLite file
/// <c>DATA_DIR/dmarc-reports.sqlite</c> or a shared PostgreSQL database). <see cref="TryEnqueue"/> never blocks and never
/// throws: evaluations go to a <see cref="BackgroundBatchWriter{T}"/> that inserts each batch in one transaction. While the
/// database cannot be opened or written (a rate-limited error line), the writer holds its batch and tries again every
/// <see cref="DmarcReportStoreOptions.RetryInterval"/>; the queue fills up to <see cref="DmarcReportStoreOptions.Capacity"/>,
/// and from there evaluations are dropped (<see cref="DroppedCount"/>, a rate-limited warning). Mail is never held up.
/// With <see cref="DmarcReportStoreOptions.RetentionDays"/>, old evaluations are deleted in small batches on a task of
/// their own (<see cref="ReportRetention"/>).
/// </summary>
public sealed class DmarcReportStore : IAsyncDisposable
{
    private readonly DmarcReportStoreOptions _options;
    private readonly BackgroundBatchWriter<PendingEvaluation> _writer;
    private readonly RateLimitedLog _errors;
    private readonly ILogger _logger;
    private readonly RetryDelay _retry;
    private readonly object _closingGate = new();
    private volatile bool _closing;
    private readonly ReportRetention? _retention;
    private DmarcReportDatabase? _db;
    private bool _failing;
    private int _disposed;
    private long _written;
    private long _lost;

    public DmarcReportStore(string dataDirectory, ILogger logger, TimeProvider time)
        : this(dataDirectory, logger, time, new DmarcReportStoreOptions())
    {
    }

    public DmarcReportStore(string dataDirectory, ILogger logger, TimeProvider time, DmarcReportStoreOptions options)
        : this(ReportStoreLocation.Sqlite(dataDirectory), logger, time, options)
    {
    }

    public DmarcReportStore(ReportStoreLocation location, ILogger logger, TimeProvider time, DmarcReportStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(options);
        Location = location;
        _options = options;
        _logger = logger;
        _errors = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _retry = new RetryDelay(time, options.RetryInterval);
        _writer = new BackgroundBatchWriter<PendingEvaluation>("DMARC report store", "evaluation",
            new BackgroundWriterLimits(options.Capacity, options.MaxBatch, options.ErrorLogInterval, options.DisposeTimeout),
            WriteBatch, Close, logger, time);
        if (options.RetentionDays > 0)
            _retention = new ReportRetention(location, options, logger, time);
    }

    /// <summary>The database file inside a data directory.</summary>
    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, DmarcReportDatabase.FileName);

    public ReportStoreLocation Location { get; }

    /// <summary>Evaluations committed to the database.</summary>
    public long WrittenCount => Interlocked.Read(ref _written);

    /// <summary>Evaluations refused because the queue was full (the database down or too slow for longer than the queue
    /// lasts). The number a metric of dropped evaluations reads.</summary>
    public long DroppedCount => _writer.DroppedCount;

    /// <summary>Evaluations waiting to be stored.</summary>
    public int QueueDepth => _writer.QueueDepth;

    /// <summary>Evaluations taken from the queue but not written: still failing when the store closed.</summary>
    public long LostCount => Interlocked.Read(ref _lost);

    /// <summary>Evaluations the retention deleted since start.</summary>
    public long DeletedCount => _retention?.DeletedCount ?? 0;

    /// <summary>
    /// Queues an evaluation. Never blocks, never throws; false when the store is closed or its queue is full
    /// (the evaluation is dropped and counted).
    /// </summary>
    public bool TryEnqueue(DmarcEvaluationRecord? record) =>
        record is not null && _writer.TryEnqueue(new PendingEvaluation(PendingEvaluation.NewKey(), record));

    /// <summary>Writes what is queued (waiting at most <see cref="DmarcReportStoreOptions.DisposeTimeout"/>; one attempt
    /// per batch), then closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        lock (_closingGate)
        {
            _closing = true;
            Monitor.PulseAll(_closingGate);
        }
        if (_retention is not null)
            await _retention.DisposeAsync();
        await _writer.DisposeAsync();
        if (DroppedCount + LostCount > 0)
            _logger.LogWarning("DMARC report store {Store} closed: {Written} evaluation(s) written, {Dropped} dropped (queue full), {Lost} lost.",
                Location, WrittenCount, DroppedCount, LostCount);
    }

    /// <summary>Writes the batch, holding it (and so letting the queue fill) while the database fails, until it is written
    /// or the store closes.</summary>
    private void WriteBatch(IReadOnlyList<PendingEvaluation> batch)
    {
        while (!TryWrite(batch))
        {
            lock (_closingGate)
            {
                if (!_closing)
                    Monitor.Wait(_closingGate, _options.RetryInterval);
            }
            if (_closing)
            {
                Interlocked.Add(ref _lost, batch.Count);
                return;
            }
        }
    }

    private bool TryWrite(IReadOnlyList<PendingEvaluation> batch)
    {
        if (_db is null && !TryOpen())
            return false;
        try
        {
            _db!.Insert(batch);
            Interlocked.Add(ref _written, batch.Count);
            if (_failing)
            {
                _failing = false;
                _logger.LogInformation("DMARC report store: writing to {Store} again.", Location);
            }
            return true;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            _failing = true;
            _errors.Log(LogLevel.Error, e, $"DMARC report store: cannot write {Location}: {e.Message}; holding {batch.Count} evaluation(s) and queueing up to {_options.Capacity}, retrying every {_options.RetryInterval}.");
            Close();
            _retry.Failed();
            return false;
        }
    }

    private bool TryOpen()
    {
        if (!_retry.Due)
            return false;
        try
        {
            if (Location.Kind == ReportStoreKind.Sqlite)
                Directory.CreateDirectory(Location.Target);
            _db = DmarcReportDatabase.Open(Location, create: true);
            _retry.Succeeded();
            return true;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            _failing = true;
            _errors.Log(LogLevel.Error, e, $"DMARC report store: cannot open {Location}: {e.Message}; queueing evaluations up to {_options.Capacity} (then dropping them), retrying every {_options.RetryInterval}.");
            _retry.Failed();
            return false;
        }
    }

    /// <summary>A failure of the database or its file (I/O, engine, network), as opposed to a bug.</summary>
    internal static bool IsStorageError(Exception e) =>
        e is DbException or IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException
            or ArgumentException or System.Security.SecurityException or System.Net.Sockets.SocketException or TimeoutException;

    private void Close()
    {
        try
        {
            _db?.Dispose();
        }
        catch (Exception e) when (IsStorageError(e))
        {
            _errors.Log(LogLevel.Error, e, $"DMARC report store: closing {Location} failed: {e.Message}");
        }
        _db = null;
    }
}
