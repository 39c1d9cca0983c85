namespace Milter.Reporting.Aggregate;

/// <summary>Limits of the DMARC report store's queue, writer and retention.</summary>
public sealed class DmarcReportStoreOptions
{
    /// <summary>Evaluations waiting for the writer (also while the database is down); when full, new ones are dropped
    /// (never waited for).</summary>
    public int Capacity { get; set; } = 10_000;

    /// <summary>Most evaluations inserted per transaction.</summary>
    public int MaxBatch { get; set; } = 500;

    /// <summary>Least time between two error (or drop warning) log lines of one kind.</summary>
    public TimeSpan ErrorLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Wait before opening the database again after it failed.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait on dispose for the queued evaluations to be written.</summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Evaluations older than this many days are deleted (<c>Reports:RetentionDays</c>); 0 keeps them all.</summary>
    public int RetentionDays { get; set; }

    /// <summary>Time between two retention runs (the first runs at start).</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Most rows one retention statement deletes (one short transaction); 0: the engine's own
    /// (<see cref="ReportStoreDialect.RetentionBatch"/>: 200 for SQLite, 2,000 for PostgreSQL).</summary>
    public int RetentionBatch { get; set; }

    /// <summary>Pause between two retention statements, so writers get the table in between.</summary>
    public TimeSpan RetentionPause { get; set; } = TimeSpan.FromMilliseconds(20);
}
