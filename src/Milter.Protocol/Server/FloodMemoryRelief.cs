using Microsoft.Extensions.Logging;

namespace Milter.Protocol.Server;

/// <summary>
/// Gives memory back to the OS after a flood of connections ends. The GC collects only when something
/// allocates, so after hundreds of connections holding frame buffers went away a quiet daemon kept the
/// garbage (and its RSS) indefinitely. Every check interval: if the connections or the buffer budget peaked
/// high since the last check and have now fallen to a quarter of that peak with no large frame buffered, one
/// compacting collection that decommits free memory runs. Ordinary traffic never triggers it.
/// </summary>
internal sealed class FloodMemoryRelief : IDisposable
{
    /// <summary>Below this many connections at the peak nothing worth giving back was held.</summary>
    internal const int MinPeakConnections = 200;
    private readonly Func<int> _connections;
    private readonly BufferBudget _budget;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private int _peakConnections;

    public FloodMemoryRelief(Func<int> connections, BufferBudget budget, ILogger logger, TimeSpan interval)
    {
        _connections = connections;
        _budget = budget;
        _logger = logger;
        _timer = TimeProvider.System.CreateTimer(_ => Check(), null, interval, interval);
    }

    /// <summary>Called as connections open.</summary>
    public void Observe(int connections)
    {
        var peak = Volatile.Read(ref _peakConnections);
        while (connections > peak)
        {
            var seen = Interlocked.CompareExchange(ref _peakConnections, connections, peak);
            if (seen == peak) break;
            peak = seen;
        }
    }

    /// <summary>True when a collection ran.</summary>
    internal bool Check()
    {
        var peak = Interlocked.Exchange(ref _peakConnections, _connections());
        var peakBuffered = _budget.TakePeak();
        var flood = peak >= MinPeakConnections || peakBuffered >= _budget.Capacity / 2;
        if (!flood || _connections() > peak / 4 || _budget.InUse > 0) return false;
        var before = GC.GetTotalMemory(forceFullCollection: false);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _logger.LogInformation("after {Peak} connections and {Buffered} bytes of large frames at the peak: heap {Before} MB -> {After} MB",
            peak, peakBuffered, before >> 20, GC.GetTotalMemory(forceFullCollection: false) >> 20);
        return true;
    }

    public void Dispose() => _timer.Dispose();
}
