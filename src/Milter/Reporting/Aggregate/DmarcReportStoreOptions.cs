namespace Milter.Reporting.Aggregate;

/// <summary>Limits of the DMARC report store's queue and writer.</summary>
public sealed class DmarcReportStoreOptions
{
    /// <summary>Evaluations waiting for the writer; when full, new ones are dropped (never waited for).</summary>
    public int Capacity { get; set; } = 10_000;

    /// <summary>Most evaluations inserted per transaction.</summary>
    public int MaxBatch { get; set; } = 500;

    /// <summary>Least time between two error (or drop warning) log lines of one kind.</summary>
    public TimeSpan ErrorLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Wait before opening the database again after it failed.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait on dispose for the queued evaluations to be written.</summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
