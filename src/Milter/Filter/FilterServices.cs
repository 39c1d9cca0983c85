using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Keys;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Inbound;
using Milter.Metrics;
using Milter.Reporting;
using Milter.Reporting.Aggregate;

namespace Milter.Filter;

/// <summary>What every per-connection filter shares: options, keys, logs. One immutable snapshot; a reload
/// (SIGHUP) builds a new one and swaps it in <see cref="FilterServicesHolder"/>; a message in flight keeps its snapshot.</summary>
internal sealed class FilterServices
{
    public FilterServices(MilterOptions options, KeyStore keys, ILogger logger, TimeProvider time, VerificationLog? verificationLog = null,
        IDnsResolver? dns = null, DmarcReportStore? reportStore = null, MilterMetrics? metrics = null)
    {
        ReportStore = reportStore;
        Metrics = metrics;
        Dns = dns ?? DnsClientResolver.CreateCached(options.ToDnsResolverOptions(), time, metrics);
        var inbound = options.ToInboundPipelineOptions();
        inbound.Dkim.KeyCacheObserver = metrics;
        Inbound = new InboundPipeline(Dns, inbound, time);
        Options = options;
        Keys = keys;
        Logger = logger;
        Time = time;
        VerificationLog = verificationLog;
        InternalHosts = new NetworkList(options.Signing.InternalHosts ?? []);
        ArcSealer = ArcSealKey.Load(options, time);
    }

    private FilterServices(FilterServices from, KeyStore keys)
    {
        ReportStore = from.ReportStore;
        Metrics = from.Metrics;
        Dns = from.Dns;
        Inbound = from.Inbound;
        Options = from.Options;
        Keys = keys;
        Logger = from.Logger;
        Time = from.Time;
        VerificationLog = from.VerificationLog;
        InternalHosts = from.InternalHosts;
        ArcSealer = from.ArcSealer;
    }

    /// <summary>This snapshot with other signing keys (a key rotation's switch): everything else, the DNS cache included, is shared.</summary>
    public FilterServices WithKeys(KeyStore keys) => ReferenceEquals(keys, Keys) ? this : new FilterServices(this, keys);

    public MilterOptions Options { get; }
    public KeyStore Keys { get; }
    public NetworkList InternalHosts { get; }
    public IDnsResolver Dns { get; }
    /// <summary>The checks of inbound mail (the same pipeline `milter check` runs).</summary>
    public InboundPipeline Inbound { get; }
    public ILogger Logger { get; }
    public TimeProvider Time { get; }
    public VerificationLog? VerificationLog { get; }
    public DmarcReportStore? ReportStore { get; }
    /// <summary>The daemon's instruments (one for its lifetime, across reloads); null where nothing is measured.</summary>
    public MilterMetrics? Metrics { get; }
    /// <summary>Seals accepted inbound mail (Arc:Seal), or null.</summary>
    public ArcSealer? ArcSealer { get; }

    /// <summary>The one place that decides the direction of a message (PRODUCT.md "Who is signed"): mail from an
    /// internal host, or from an authenticated client when SignAuthenticated is on, is outbound: it may be signed and
    /// is not checked. Everything else is inbound and checked.</summary>
    public bool IsOutbound(SmtpEnvelope envelope, string? clientName = null)
        => InternalHosts.Contains(envelope.ClientAddress, clientName) || (envelope.Authenticated && Options.Signing.SignAuthenticated);
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
