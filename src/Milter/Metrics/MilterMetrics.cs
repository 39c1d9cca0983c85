using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.Reporting;

namespace Milter.Metrics;

/// <summary>
/// The daemon's instruments (System.Diagnostics.Metrics), on one <see cref="Meter"/> named <see cref="MeterName"/> that
/// this object owns: one instance per daemon, handed to what records (the filter, the DNS resolver, the DKIM key cache)
/// and observed by the Prometheus endpoint or by dotnet-counters. Every label value comes from a small fixed set or
/// from the configuration (signing domain and selector): never from the mail (no sender, no client address), so the
/// number of series stays bounded. The Prometheus names (README "Metrics") are the instrument names with '.' as '_',
/// "_seconds" for unit s and "_total" for counters (<see cref="PrometheusCollector"/>).
/// Recording uses <see cref="TagList"/> (no label array allocated per call); without a listener it is a flag test.
/// </summary>
internal sealed class MilterMetrics : IDnsQueryObserver, IDkimKeyCacheObserver, IDisposable
{
    public const string MeterName = "Milter";

    /// <summary>The Authentication-Results methods counted by milter.verifications (milter_verifications_total). ARC: add "arc".</summary>
    public static readonly FrozenSet<string> VerificationMethods = FrozenSet.Create(StringComparer.Ordinal, "spf", "dkim", "dmarc", "arc");

    /// <summary>RFC 8601 2.7 result keywords (and 'policy'); anything else is counted as "other".</summary>
    private static readonly FrozenSet<string> ResultKeywords = FrozenSet.Create(StringComparer.Ordinal,
        "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy");

    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Counter<long> _messages;
    private readonly Counter<long> _signatures;
    private readonly Counter<long> _verifications;
    private readonly Histogram<double> _eomDuration;
    private readonly Histogram<double> _dnsDuration;
    private readonly Counter<long> _dnsErrors;
    private readonly Counter<long> _keyCacheLookups;
    private readonly Lock _sourcesLock = new();
    private Func<int>? _openConnections;
    private (string Queue, Func<int> Depth, Func<long> Dropped)[] _queues = [];

    public MilterMetrics()
    {
        Meter = new Meter(MeterName);
        var latency = new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets };
        _messages = Meter.CreateCounter<long>("milter.messages", null, "Messages that reached end of message, by direction (inbound, outbound) and verdict (continue, quarantine, reject, tempfail)");
        _signatures = Meter.CreateCounter<long>("milter.signatures", null, "DKIM signatures added, by signing domain, selector and algorithm (from the configured keys)");
        _verifications = Meter.CreateCounter<long>("milter.verifications", null, "Authentication-Results clauses of inbound mail, by method (spf, dkim, dmarc) and result");
        _eomDuration = Meter.CreateHistogram("milter.eom.duration", "s", "Time from end of message to the answer (verification, signing, enforcement), by direction", null, latency);
        _dnsDuration = Meter.CreateHistogram("milter.dns.duration", "s", "Time of DNS queries sent (cache misses), by query type", null, latency);
        _dnsErrors = Meter.CreateCounter<long>("milter.dns.errors", null, "DNS queries that failed temporarily, by query type and error (timeout, servfail, error)");
        _keyCacheLookups = Meter.CreateCounter<long>("milter.dkim.key_cache.lookups", null, "DKIM key lookups, by result: hit (from the key cache) or miss (DNS asked)");
        Meter.CreateObservableUpDownCounter("milter.connections.open", ObserveConnections, null, "Milter connections open now");
        Meter.CreateObservableGauge("milter.queue.depth", ObserveQueueDepths, null, "Items waiting in a background writer's queue, by queue (verification_log, report_store)");
        Meter.CreateObservableCounter("milter.queue.dropped", ObserveQueueDrops, null, "Items dropped because a background writer's queue was full, by queue (verification_log, report_store)");
    }

    public Meter Meter { get; }

    /// <summary>One message answered at end of message.</summary>
    public void MessageFinished(bool outbound, string verdict, TimeSpan endOfMessage)
    {
        var direction = outbound ? "outbound" : "inbound";
        _messages.Add(1, new KeyValuePair<string, object?>("direction", direction), new KeyValuePair<string, object?>("verdict", verdict));
        _eomDuration.Record(endOfMessage.TotalSeconds, new KeyValuePair<string, object?>("direction", direction));
    }

    /// <summary>The signatures a message left with (domain and selector are the configured key's).</summary>
    public void Signed(IReadOnlyList<SignedEntry> signed)
    {
        for (var i = 0; i < signed.Count; i++)
        {
            var tags = new TagList { { "domain", signed[i].Domain }, { "selector", signed[i].Selector }, { "algorithm", signed[i].Algorithm } };
            _signatures.Add(1, in tags);
        }
    }

    /// <summary>The clauses of one message's Authentication-Results; methods outside <see cref="VerificationMethods"/> are not counted.</summary>
    public void Verified(IReadOnlyList<AuthMethodResult> clauses)
    {
        for (var i = 0; i < clauses.Count; i++)
        {
            var c = clauses[i];
            if (!VerificationMethods.TryGetValue(c.Method, out var method)) continue;
            var result = ResultKeywords.TryGetValue(c.Result, out var known) ? known : "other";
            _verifications.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("result", result));
        }
    }

    public void QueryCompleted(string type, DnsStatus status, TimeSpan elapsed)
    {
        _dnsDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("type", type));
        var error = status switch
        {
            DnsStatus.Timeout => "timeout",
            DnsStatus.ServerFailure => "servfail",
            DnsStatus.Error => "error",
            _ => null,
        };
        if (error is not null)
            _dnsErrors.Add(1, new KeyValuePair<string, object?>("type", type), new KeyValuePair<string, object?>("error", error));
    }

    public void KeyLookup(bool cacheHit) => _keyCacheLookups.Add(1, new KeyValuePair<string, object?>("result", cacheHit ? "hit" : "miss"));

    /// <summary>Where <c>milter.connections.open</c> reads the number of open connections (the milter server, once started).</summary>
    public void ObserveConnections(Func<int> openConnections)
    {
        lock (_sourcesLock) _openConnections = openConnections;
    }

    /// <summary>A background writer's queue whose depth and drops are observed, under the label queue=<paramref name="queue"/>.</summary>
    public void ObserveQueue(string queue, Func<int> depth, Func<long> dropped)
    {
        lock (_sourcesLock) _queues = [.. _queues, (queue, depth, dropped)];
    }

    private IEnumerable<Measurement<int>> ObserveConnections()
    {
        Func<int>? source;
        lock (_sourcesLock) source = _openConnections;
        return source is null ? [] : [new Measurement<int>(source())];
    }

    private IEnumerable<Measurement<int>> ObserveQueueDepths()
        => Volatile.Read(ref _queues).Select(q => new Measurement<int>(q.Depth(), new KeyValuePair<string, object?>("queue", q.Queue)));

    private IEnumerable<Measurement<long>> ObserveQueueDrops()
        => Volatile.Read(ref _queues).Select(q => new Measurement<long>(q.Dropped(), new KeyValuePair<string, object?>("queue", q.Queue)));

    public void Dispose() => Meter.Dispose();
}
