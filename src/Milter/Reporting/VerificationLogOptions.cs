namespace Milter.Reporting;

/// <summary>Config section <c>ReportLog</c>.</summary>
public sealed class VerificationLogOptions
{
    public const string SectionName = "ReportLog";

    /// <summary>File the JSON lines are appended to; null or empty turns the log off.</summary>
    public string? Path { get; set; }

    /// <summary>Records waiting for the writer; when full, new ones are dropped (never waited for).</summary>
    public int Capacity { get; set; } = 10_000;

    /// <summary>Most records written per write + flush.</summary>
    public int MaxBatch { get; set; } = 256;

    /// <summary>Least time between two error (or drop warning) log lines of one kind.</summary>
    public TimeSpan ErrorLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Wait before opening the file again after it failed.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait on dispose for the queued records to be written.</summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
