using Microsoft.Extensions.Logging;

namespace Milter.Reporting;

/// <summary>Logs at most one line per interval; the next line says how many were held back.</summary>
internal sealed class RateLimitedLog(ILogger logger, TimeProvider time, TimeSpan interval)
{
    private readonly Lock _gate = new();
    private long _lastTicks = long.MinValue;
    private long _suppressed;

    public void Log(LogLevel level, Exception? exception, string message)
    {
        long suppressed;
        lock (_gate)
        {
            long now = time.GetTimestamp();
            if (_lastTicks != long.MinValue && time.GetElapsedTime(_lastTicks, now) < interval)
            {
                _suppressed++;
                return;
            }
            _lastTicks = now;
            suppressed = _suppressed;
            _suppressed = 0;
        }
        if (suppressed > 0)
            logger.Log(level, exception, "{Message} ({Suppressed} similar messages suppressed)", message, suppressed);
        else
            logger.Log(level, exception, "{Message}", message);
    }
}
