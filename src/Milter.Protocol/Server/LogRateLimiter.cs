using Microsoft.Extensions.Logging;

namespace Milter.Protocol.Server;

/// <summary>
/// Bounds the log lines one cause (a key such as "bad-frame" or "refused") can write: at most
/// <c>linesPerInterval</c> lines per interval, the rest counted; when the interval ends, one line says how
/// many were suppressed. A flood of hostile connections then costs a few lines, not one each. Thread-safe.
/// </summary>
public sealed class LogRateLimiter : IDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _linesPerInterval;
    private readonly TimeSpan _interval;
    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly ITimer _flush;

    public LogRateLimiter(ILogger logger, int linesPerInterval, TimeSpan interval, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(linesPerInterval, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _linesPerInterval = linesPerInterval;
        _interval = interval;
        _flush = _time.CreateTimer(_ => Flush(), null, interval, interval);
    }

    /// <summary>True when a line for <paramref name="cause"/> may be written now; false when it is counted instead.</summary>
    public bool Allow(string cause)
    {
        int suppressed;
        bool allowed;
        lock (_windows)
        {
            var now = _time.GetTimestamp();
            if (!_windows.TryGetValue(cause, out var w))
                _windows[cause] = w = new Window { Start = now };
            suppressed = RollIfExpired(w, now);
            allowed = w.Lines < _linesPerInterval;
            if (allowed) w.Lines++;
            else w.Suppressed++;
        }
        if (suppressed > 0) Report(cause, suppressed);
        return allowed;
    }

    /// <summary>Suppressed lines counted so far in the current interval, for tests and counters.</summary>
    public int Suppressed(string cause)
    {
        lock (_windows) return _windows.TryGetValue(cause, out var w) ? w.Suppressed : 0;
    }

    /// <summary>Writes the "suppressed" line of every cause whose interval has ended (of every cause, when
    /// <paramref name="all"/>: at shutdown).</summary>
    public void Flush(bool all = false)
    {
        List<(string Cause, int Count)> due = [];
        lock (_windows)
        {
            var now = _time.GetTimestamp();
            foreach (var (cause, w) in _windows)
            {
                var n = RollIfExpired(w, now, all);
                if (n > 0) due.Add((cause, n));
            }
            // Causes quiet for a whole interval are dropped, so the table holds only recent ones.
            foreach (var cause in _windows.Where(p => p.Value.Lines == 0 && p.Value.Suppressed == 0).Select(p => p.Key).ToList())
                _windows.Remove(cause);
        }
        foreach (var (cause, count) in due) Report(cause, count);
    }

    private int RollIfExpired(Window w, long now, bool force = false)
    {
        if (!force && _time.GetElapsedTime(w.Start, now) < _interval) return 0;
        var suppressed = w.Suppressed;
        w.Start = now;
        w.Lines = 0;
        w.Suppressed = 0;
        return suppressed;
    }

    private void Report(string cause, int count)
        => _logger.LogWarning("{Cause}: {Count} similar line(s) suppressed in the last {Interval}", cause, count, _interval);

    /// <summary>Stops the timer and reports what is still counted.</summary>
    public void Dispose()
    {
        _flush.Dispose();
        Flush(all: true);
    }

    private sealed class Window
    {
        public long Start;
        public int Lines;
        public int Suppressed;
    }
}
