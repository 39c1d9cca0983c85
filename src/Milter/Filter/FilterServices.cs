using Microsoft.Extensions.Logging;
using Milter.Configuration;

namespace Milter.Filter;

/// <summary>What every per-connection filter shares: options, logger and (later) keys and engines.</summary>
internal sealed class FilterServices
{
    public FilterServices(MilterOptions options, ILogger logger, TimeProvider time)
    {
        Options = options;
        Logger = logger;
        Time = time;
    }

    public MilterOptions Options { get; }
    public ILogger Logger { get; }
    public TimeProvider Time { get; }
}
