using System.Net;
using System.Text;
using Milter.Configuration;
using Milter.Filter;
using Milter.Keys;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dns;
using Milter.Metrics;
using Milter.Protocol;
using Milter.Reporting;
using Milter.TestKit.Dns;
using Milter.Tests.Filter;

namespace Milter.Tests.Metrics;

/// <summary>Issue 18 part 1: what the daemon's instruments record, read in process with a <see cref="MeterListener"/>
/// on the instance's own <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
public sealed class MilterMetricsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly FilterDriver.Envelope InboundEnvelope = new(FilterDriver.Outside, "client.sender.test", "<alice@sender.test>");

    private static byte[] Message(string headers) => Encoding.ASCII.GetBytes(headers + "To: bob@example.org\r\nSubject: hi\r\n\r\nHello\r\n");

    private static FilterDriver SigningDriver(MilterMetrics metrics)
    {
        var options = FilterDriver.Options(o =>
        {
            o.Signing.Keys = [new SigningKeyOptions
            {
                Domain = "golden.test", Selector = "rsa",
                KeyFile = Path.Combine(AppContext.BaseDirectory, "TestData/filter-cases/keys/rsa.private"),
            }];
            o.Signing.AllowGroupReadableKeys = true;
        });
        return new FilterDriver(options, new StubResolver(DnsStatus.NxDomain), KeyStore.Load(options.Signing, TimeProvider.System), metrics: metrics);
    }

    [Fact]
    public async Task An_inbound_message_counts_its_verdict_direction_results_and_end_of_message_time()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);
        var driver = new FilterDriver(metrics: metrics);

        var (response, _) = await driver.SendMessageAsync(InboundEnvelope, Message("From: alice@sender.test\r\n"));

        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Equal(1, recorder.Sum("milter.messages", "direction=inbound", "verdict=continue"));
        Assert.Equal(1, recorder.Sum("milter.messages"));
        Assert.Equal(1, recorder.Sum("milter.verifications", "method=spf", "result=none"));
        Assert.Equal(1, recorder.Sum("milter.verifications", "method=dkim", "result=none"));
        Assert.Equal(1, recorder.Sum("milter.verifications", "method=dmarc", "result=none"));
        Assert.Equal(3, recorder.Sum("milter.verifications"));
        var eom = Assert.Single(recorder.Of("milter.eom.duration", "direction=inbound"));
        Assert.InRange(eom.Value, 0, 60);
        Assert.Empty(recorder.Of("milter.signatures"));
    }

    [Fact]
    public async Task An_outbound_message_counts_its_signature_by_domain_selector_and_algorithm_and_no_verification()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);
        var driver = SigningDriver(metrics);

        var (response, _) = await driver.SendMessageAsync(new FilterDriver.Envelope(FilterDriver.Inside, "client.golden.test", "<alice@golden.test>"),
            Message("From: alice@golden.test\r\n"));

        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Equal(1, recorder.Sum("milter.messages", "direction=outbound", "verdict=continue"));
        var signature = Assert.Single(recorder.Of("milter.signatures"));
        Assert.Equal(1, signature.Value);
        Assert.Equal(new Dictionary<string, string?> { ["domain"] = "golden.test", ["selector"] = "rsa", ["algorithm"] = "rsa-sha256" }, signature.Tags);
        Assert.Empty(recorder.Of("milter.verifications"));
        Assert.Single(recorder.Of("milter.eom.duration", "direction=outbound"));
    }

    [Fact]
    public async Task A_tempfailed_outbound_message_counts_as_tempfail_with_no_signature()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);
        var driver = SigningDriver(metrics);
        var fillers = string.Concat(Enumerable.Range(0, AuthFilter.MaxHeaders + 1).Select(i => $"X-Filler: {i}\r\n"));

        var (response, _) = await driver.SendMessageAsync(new FilterDriver.Envelope(FilterDriver.Inside, "client.golden.test", "<alice@golden.test>"),
            Message("From: alice@golden.test\r\n" + fillers));

        Assert.Equal(MilterResponseKind.Tempfail, response.Kind);
        Assert.Equal(1, recorder.Sum("milter.messages", "direction=outbound", "verdict=tempfail"));
        Assert.Empty(recorder.Of("milter.signatures"));
    }

    [Fact]
    public async Task The_key_cache_counts_a_miss_then_a_hit_for_the_same_key_record()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);
        var driver = new FilterDriver(metrics: metrics);
        // NXDOMAIN for the key is a permanent error, which the cache keeps.
        const string signed = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=sel; h=from;\r\n" +
                              " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\nFrom: alice@sender.test\r\n";

        await driver.SendMessageAsync(InboundEnvelope, Message(signed));
        Assert.Equal(1, recorder.Sum("milter.dkim.key_cache.lookups", "result=miss"));
        Assert.Equal(0, recorder.Sum("milter.dkim.key_cache.lookups", "result=hit"));
        await driver.SendMessageAsync(InboundEnvelope, Message(signed));
        Assert.Equal(1, recorder.Sum("milter.dkim.key_cache.lookups", "result=miss"));
        Assert.Equal(1, recorder.Sum("milter.dkim.key_cache.lookups", "result=hit"));
        Assert.Equal(2, recorder.Sum("milter.verifications", "method=dkim", "result=permerror"));
    }

    [Fact]
    public async Task Dns_queries_are_timed_by_type_and_their_errors_counted_by_kind()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);

        await new ObservedDnsResolver(new StubResolver(DnsStatus.Timeout), metrics).GetTxtAsync("a.test", CancellationToken.None);
        await new ObservedDnsResolver(new StubResolver(DnsStatus.ServerFailure), metrics).GetMxAsync("a.test", CancellationToken.None);
        await new ObservedDnsResolver(new StubResolver(DnsStatus.NxDomain), metrics).GetAddressesAsync("a.test", ipv6: true, CancellationToken.None);
        await new ObservedDnsResolver(new StubResolver(DnsStatus.InvalidName), metrics).GetTxtAsync("a..test", CancellationToken.None);

        Assert.Equal(["txt", "mx", "aaaa"], recorder.Of("milter.dns.duration").Select(m => m.Tags["type"]));
        Assert.Equal(1, recorder.Sum("milter.dns.errors", "type=txt", "error=timeout"));
        Assert.Equal(1, recorder.Sum("milter.dns.errors", "type=mx", "error=servfail"));
        Assert.Equal(2, recorder.Sum("milter.dns.errors"));
    }

    [Fact]
    public async Task The_daemon_resolver_reports_a_real_timeout_and_only_the_queries_it_sends()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);
        var resolver = DnsClientResolver.CreateCached(new DnsResolverOptions
        {
            Servers = [$"127.0.0.1:{blackhole.Port}"], Timeout = TimeSpan.FromMilliseconds(300), Retries = 0,
        }, TimeProvider.System, metrics);

        var answer = await resolver.GetTxtAsync("selector._domainkey.example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Timeout, answer.Status);
        Assert.Equal(1, recorder.Sum("milter.dns.errors", "type=txt", "error=timeout"));
        Assert.Single(recorder.Of("milter.dns.duration", "type=txt"));
    }

    [Fact]
    public void Only_known_methods_are_counted_and_an_unknown_result_is_other()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);

        metrics.Verified([new AuthMethodResult("iprev", "pass"), new AuthMethodResult("spf", "something-new"), new AuthMethodResult("dkim", "pass")]);

        Assert.Equal(1, recorder.Sum("milter.verifications", "method=spf", "result=other"));
        Assert.Equal(1, recorder.Sum("milter.verifications", "method=dkim", "result=pass"));
        Assert.Equal(2, recorder.Sum("milter.verifications"));
    }

    [Fact]
    public void Connections_and_queues_are_read_from_their_sources_when_observed()
    {
        using var metrics = new MilterMetrics();
        using var recorder = new MeasurementRecorder(metrics.Meter);
        var open = 3;
        metrics.ObserveConnections(() => open);
        metrics.ObserveQueue("verification_log", () => 7, () => 2);

        recorder.Observe();

        Assert.Equal(3, Assert.Single(recorder.Of("milter.connections.open")).Value);
        Assert.Equal(7, Assert.Single(recorder.Of("milter.queue.depth", "queue=verification_log")).Value);
        Assert.Equal(2, Assert.Single(recorder.Of("milter.queue.dropped", "queue=verification_log")).Value);
    }

    [Fact]
    public void Two_instances_do_not_hear_each_other()
    {
        using var a = new MilterMetrics();
        using var b = new MilterMetrics();
        using var recorder = new MeasurementRecorder(a.Meter);

        b.KeyLookup(cacheHit: true);

        Assert.Empty(recorder.Of("milter.dkim.key_cache.lookups"));
    }

    [Fact]
    public void Recording_a_message_allocates_nothing_once_its_series_exist()
    {
        // What the filter records per message, with the Prometheus collector listening: no label array, no boxing, no
        // string per call. The time is printed (not asserted: the machine is shared).
        AuthMethodResult[] clauses = [new("spf", "pass"), new("dkim", "pass"), new("dmarc", "pass")];
        SignedEntry[] signed = [new("example.test", "s1", "rsa-sha256")];
        const int messages = 200_000;
        static void OneMessage(MilterMetrics m, AuthMethodResult[] clauses, SignedEntry[] signed)
        {
            m.MessageFinished(outbound: false, "continue", TimeSpan.FromMilliseconds(2));
            m.Verified(clauses);
            m.Signed(signed);
            m.KeyLookup(cacheHit: true);
            m.QueryCompleted("txt", DnsStatus.NoError, TimeSpan.FromMilliseconds(1));
        }
        static (double NanosecondsPerMessage, long Allocated) Measure(MilterMetrics m, AuthMethodResult[] clauses, SignedEntry[] signed)
        {
            for (var i = 0; i < 5000; i++) OneMessage(m, clauses, signed);
            var cpu = ThreadCpuNanoseconds();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < messages; i++) OneMessage(m, clauses, signed);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            return ((ThreadCpuNanoseconds() - cpu) / (double)messages, allocated);
        }
        // CPU time of this thread (first field of schedstat, in ns): on a loaded machine wall time would count the waits.
        static long ThreadCpuNanoseconds()
            => long.Parse(File.ReadAllText("/proc/thread-self/schedstat").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

        using var unheard = new MilterMetrics();
        var idle = Measure(unheard, clauses, signed);
        using var metrics = new MilterMetrics();
        using var collector = new PrometheusCollector(metrics.Meter);
        var (ns, allocated) = Measure(metrics, clauses, signed);

        output.WriteLine($"{messages} messages recorded (7 measurements each): {ns:F0} ns of CPU per message with the collector listening, " +
                         $"{idle.NanosecondsPerMessage:F0} ns with no listener; {allocated} and {idle.Allocated} bytes allocated in all");
        // Nothing per message: a one-time allocation of the runtime (tiering) may fall in the window, not 200,000 of them.
        Assert.InRange(idle.Allocated, 0, 1024);
        Assert.InRange(allocated, 0, 1024);
        Assert.Contains($"milter_messages_total{{direction=\"inbound\",verdict=\"continue\"}} {messages + 5000}", collector.Render(), StringComparison.Ordinal);
    }

    /// <summary>Every query answered with one status, at once.</summary>
    private sealed class StubResolver(DnsStatus status) : IDnsResolver
    {
        private Task<DnsAnswer<T>> Answer<T>() => Task.FromResult(new DnsAnswer<T>(status, []));
        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) => Answer<string>();
        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) => Answer<IPAddress>();
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) => Answer<MxRecord>();
        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) => Answer<string>();
    }
}
