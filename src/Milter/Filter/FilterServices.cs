using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Keys;
using Milter.Reporting;

namespace Milter.Filter;

/// <summary>What every per-connection filter shares: options, keys, logs. One immutable snapshot; a reload
/// (SIGHUP) builds a new one and swaps it in <see cref="FilterServicesHolder"/>; a message in flight keeps its snapshot.</summary>
internal sealed class FilterServices
{
    public FilterServices(MilterOptions options, KeyStore keys, ILogger logger, TimeProvider time, VerificationLog? verificationLog = null)
    {
        Options = options;
        Keys = keys;
        Logger = logger;
        Time = time;
        VerificationLog = verificationLog;
        InternalHosts = new NetworkList(options.Signing.InternalHosts ?? []);
    }

    public MilterOptions Options { get; }
    public KeyStore Keys { get; }
    public NetworkList InternalHosts { get; }
    public ILogger Logger { get; }
    public TimeProvider Time { get; }
    public VerificationLog? VerificationLog { get; }
}

/// <summary>The current <see cref="FilterServices"/>; swapped atomically on reload.</summary>
internal sealed class FilterServicesHolder
{
    private volatile FilterServices _current;

    public FilterServicesHolder(FilterServices initial) => _current = initial;

    public FilterServices Current
    {
        get => _current;
        set => _current = value;
    }
}
