using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// Deletes evaluations older than <see cref="DmarcReportStoreOptions.RetentionDays"/>, at start and then every
/// <see cref="DmarcReportStoreOptions.RetentionInterval"/>, on its own connection: statements of at most
/// <see cref="DmarcReportStoreOptions.RetentionBatch"/> rows (on SQLite fewer when they take longer than
/// <see cref="ReportStoreDialect.RetentionStatementBudget"/>), each its own transaction, with a pause between them, so a writer never waits longer
/// than one small delete. Several hosts on one store may run it at once (deleting is idempotent).
/// </summary>
internal sealed class ReportRetention : IAsyncDisposable
{
    private readonly ReportStoreLocation _location;
    private readonly DmarcReportStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RateLimitedLog _errors;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _deleted;

    public ReportRetention(ReportStoreLocation location, DmarcReportStoreOptions options, ILogger logger, TimeProvider time)
    {
        _location = location;
        _options = options;
        _logger = logger;
        _time = time;
        _errors = new RateLimitedLog(logger, time, options.ErrorLogInterval);
        _loop = Task.Run(LoopAsync);
    }

    public long DeletedCount => Interlocked.Read(ref _deleted);

    /// <summary>Fewest rows per statement, however slow the machine: the pass must still end.</summary>
    internal const int MinBatch = 20;

    /// <summary>One retention pass: deletes in batches until no row is older than the cutoff; returns the rows deleted.
    /// On an engine with a <see cref="ReportStoreDialect.RetentionStatementBudget"/> (SQLite), the batches are time-bounded:
    /// each as many rows as the last statements deleted within the budget (a loaded machine deletes fewer per statement),
    /// so a writer waits for about one budget at most.</summary>
    /// <param name="batch">most rows per statement; 0: the engine's own (<see cref="ReportStoreDialect.RetentionBatch"/>)</param>
    public static long Run(ReportStoreLocation location, DateTimeOffset cutoff, int batch, TimeSpan pause, CancellationToken ct)
    {
        var dialect = ReportStoreDialect.For(location);
        if (batch <= 0)
            batch = dialect.RetentionBatch;
        long total = 0;
        using var db = DmarcReportDatabase.Open(location, create: false);
        db.PrepareRetention();
        int size = batch;
        bool more;
        do
        {
            ct.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            int deleted = db.DeleteOlderThan(cutoff, size);
            var took = Stopwatch.GetElapsedTime(start);
            total += deleted;
            more = deleted == size;
            if (dialect.RetentionStatementBudget is { } budget)
                size = NextBatch(size, took, budget, batch);
            if (more && pause > TimeSpan.Zero)
                ct.WaitHandle.WaitOne(pause);
        }
        while (more);
        return total;
    }

    /// <summary>The next statement's rows after one of <paramref name="size"/> rows took <paramref name="took"/>: half as
    /// many when it took longer than <paramref name="budget"/> (never fewer than <see cref="MinBatch"/>), a quarter more
    /// when it took less than half of it (never more than <paramref name="most"/>).</summary>
    internal static int NextBatch(int size, TimeSpan took, TimeSpan budget, int most)
    {
        if (took > budget)
            return Math.Max(Math.Min(MinBatch, most), size / 2);
        if (took < budget / 2)
            return Math.Min(most, size + size / 4 + 1);
        return size;
    }

    private async Task LoopAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            var cutoff = _time.GetUtcNow().AddDays(-_options.RetentionDays);
            try
            {
                long deleted = Run(_location, cutoff, _options.RetentionBatch, _options.RetentionPause, ct);
                Interlocked.Add(ref _deleted, deleted);
                if (deleted > 0)
                    _logger.LogInformation("DMARC report store: retention deleted {Count} evaluation(s) older than {Cutoff:u}.", deleted, cutoff);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (DmarcReportStore.IsStorageError(e))
            {
                _errors.Log(LogLevel.Error, e, $"DMARC report store: retention on {_location} failed: {e.Message}; trying again in {_options.RetentionInterval}.");
            }
            try
            {
                await Task.Delay(_options.RetentionInterval, _time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
