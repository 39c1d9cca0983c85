namespace Milter.Reporting;

/// <summary>After a failure to open a file, the wait before trying again.</summary>
internal sealed class RetryDelay(TimeProvider time, TimeSpan interval)
{
    private long _failedAt = long.MinValue;

    /// <summary>Whether no failure is recent: an attempt may be made now.</summary>
    public bool Due => _failedAt == long.MinValue || time.GetElapsedTime(_failedAt) >= interval;

    public void Failed() => _failedAt = time.GetTimestamp();

    public void Succeeded() => _failedAt = long.MinValue;
}
