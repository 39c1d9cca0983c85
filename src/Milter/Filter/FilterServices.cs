using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;
using Milter.Reporting;
using Milter.Reporting.Aggregate;

namespace Milter.Filter;

/// <summary>What every per-connection filter shares: options, keys, logs. One immutable snapshot; a reload
/// (SIGHUP) builds a new one and swaps it in <see cref="FilterServicesHolder"/>; a message in flight keeps its snapshot.</summary>
internal sealed class FilterServices
{
    public FilterServices(MilterOptions options, KeyStore keys, ILogger logger, TimeProvider time, VerificationLog? verificationLog = null,
        IDnsResolver? dns = null, DmarcReportStore? reportStore = null)
    {
        ReportStore = reportStore;
        Dns = dns ?? DnsClientResolver.CreateCached(options.ToDnsResolverOptions(), time);
        Verifier = new DkimVerifier(Dns, options.ToDkimVerifierOptions(), time);
        Dmarc = new DmarcEvaluator(Dns, options.ToDmarcOptions());
        Spf = new SpfChecker(Dns, options.ToSpfOptions(), time);
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
    public IDnsResolver Dns { get; }
    public DkimVerifier Verifier { get; }
    public SpfChecker Spf { get; }
    public DmarcEvaluator Dmarc { get; }
    public ILogger Logger { get; }
    public TimeProvider Time { get; }
    public VerificationLog? VerificationLog { get; }
    public DmarcReportStore? ReportStore { get; }
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
