using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Milter.MailAuth.Dns;
using Milter.Metrics;
using Milter.Reporting;
using Milter.TestKit;

namespace Milter.Tests.Metrics;

/// <summary>Issue 18 part 1: the Prometheus text the endpoint serves, the endpoint itself, and Metrics:Listen values.</summary>
public sealed class PrometheusExportTests
{
    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Counters_get_total_durations_get_seconds_and_label_sets_are_sorted()
    {
        using var metrics = new MilterMetrics();
        using var collector = new PrometheusCollector(metrics.Meter);
        metrics.MessageFinished(outbound: false, "continue", TimeSpan.FromMilliseconds(3));
        metrics.MessageFinished(outbound: false, "continue", TimeSpan.FromMilliseconds(30));
        metrics.MessageFinished(outbound: true, "tempfail", TimeSpan.FromSeconds(100));
        metrics.Signed([new SignedEntry("example.test", "s\"1", "ed25519-sha256")]);

        var lines = Lines(collector.Render());

        Assert.Contains("# TYPE milter_messages_total counter", lines);
        Assert.Contains("milter_messages_total{direction=\"inbound\",verdict=\"continue\"} 2", lines);
        Assert.Contains("milter_messages_total{direction=\"outbound\",verdict=\"tempfail\"} 1", lines);
        Assert.Contains("milter_signatures_total{algorithm=\"ed25519-sha256\",domain=\"example.test\",selector=\"s\\\"1\"} 1", lines);
        Assert.Contains("# TYPE milter_eom_duration_seconds histogram", lines);
        // Cumulative buckets: 3 ms is above 0.0025, both are at or below 0.05; 100 s only in +Inf.
        Assert.Contains("milter_eom_duration_seconds_bucket{direction=\"inbound\",le=\"0.0025\"} 0", lines);
        Assert.Contains("milter_eom_duration_seconds_bucket{direction=\"inbound\",le=\"0.005\"} 1", lines);
        Assert.Contains("milter_eom_duration_seconds_bucket{direction=\"inbound\",le=\"0.05\"} 2", lines);
        Assert.Contains("milter_eom_duration_seconds_bucket{direction=\"inbound\",le=\"+Inf\"} 2", lines);
        Assert.Contains("milter_eom_duration_seconds_count{direction=\"inbound\"} 2", lines);
        Assert.Contains("milter_eom_duration_seconds_sum{direction=\"inbound\"} 0.033", lines);
        Assert.Contains("milter_eom_duration_seconds_bucket{direction=\"outbound\",le=\"60\"} 0", lines);
        Assert.Contains("milter_eom_duration_seconds_bucket{direction=\"outbound\",le=\"+Inf\"} 1", lines);
        Assert.Contains(lines, l => l.StartsWith("# HELP milter_dns_errors_total DNS queries that failed", StringComparison.Ordinal));
    }

    [Fact]
    public void Observed_values_are_read_at_each_render_and_a_gauge_shows_only_its_current_sources()
    {
        using var metrics = new MilterMetrics();
        using var collector = new PrometheusCollector(metrics.Meter);
        var open = 2;
        long dropped = 5;
        metrics.ObserveConnections(() => open);
        metrics.ObserveQueue("verification_log", () => open * 10, () => dropped);

        Assert.Contains("milter_connections_open 2", Lines(collector.Render()));
        open = 4;
        dropped = 6;
        var lines = Lines(collector.Render());
        Assert.Contains("# TYPE milter_connections_open gauge", lines);
        Assert.Contains("milter_connections_open 4", lines);
        Assert.Contains("milter_queue_depth{queue=\"verification_log\"} 40", lines);
        Assert.Contains("# TYPE milter_queue_dropped_total counter", lines);
        Assert.Contains("milter_queue_dropped_total{queue=\"verification_log\"} 6", lines);
    }

    [Fact]
    public void A_collector_sees_its_own_meter_only()
    {
        using var a = new MilterMetrics();
        using var b = new MilterMetrics();
        using var collector = new PrometheusCollector(a.Meter);
        b.QueryCompleted("txt", DnsStatus.Timeout, TimeSpan.FromSeconds(1));

        Assert.DoesNotContain(Lines(collector.Render()), l => l.StartsWith("milter_dns_errors_total{", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_endpoint_serves_the_text_at_its_path_and_nothing_else()
    {
        using var metrics = new MilterMetrics();
        var address = Parse($"http://127.0.0.1:{FreePort.Next()}/metrics");
        await using var endpoint = MetricsEndpoint.Start(address, metrics, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        metrics.KeyLookup(cacheHit: true); // heard from the start of the endpoint on
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        using var ok = await http.GetAsync($"http://127.0.0.1:{address.Port}/metrics");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", ok.Content.Headers.ContentType?.ToString());
        Assert.Contains("milter_dkim_key_cache_lookups_total{result=\"hit\"} 1", Lines(await ok.Content.ReadAsStringAsync()));
        using var elsewhere = await http.GetAsync($"http://127.0.0.1:{address.Port}/other");
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        using var post = await http.PostAsync($"http://127.0.0.1:{address.Port}/metrics", new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public async Task Silent_clients_in_every_slot_are_closed_after_the_head_deadline_and_a_scrape_gets_through()
    {
        using var metrics = new MilterMetrics();
        var address = Parse($"http://127.0.0.1:{FreePort.Next()}/metrics");
        await using var endpoint = MetricsEndpoint.Start(address, metrics, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var silent = new List<TcpClient>();
        try
        {
            // Four clients that connect and send nothing take the four slots: a scrape is closed unanswered.
            for (int i = 0; i < 4; i++)
            {
                var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, address.Port);
                silent.Add(client);
            }
            var full = Stopwatch.StartNew();
            while (await ScrapeAsync(address.Port) is not null)
                Assert.True(full.Elapsed < TimeSpan.FromSeconds(30), "the four silent clients never took the four slots");

            // The head deadline (2 s) frees the slots well before the answer deadline (10 s) would have.
            var clock = Stopwatch.StartNew();
            string? answer = null;
            while (answer is null && clock.Elapsed < TimeSpan.FromSeconds(8))
            {
                answer = await ScrapeAsync(address.Port);
                if (answer is null)
                    await Task.Delay(100);
            }
            Assert.NotNull(answer);
            Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
            foreach (var client in silent)
                Assert.Equal(0, await client.GetStream().ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            foreach (var client in silent)
                client.Dispose();
        }
    }

    /// <summary>One GET of the metrics on a connection of its own: the answer, or null when it was closed unanswered.</summary>
    private static async Task<string?> ScrapeAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            using var reader = new StreamReader(stream);
            var text = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return text.Length == 0 ? null : text;
        }
        catch (IOException)
        {
            return null; // reset: closed unanswered
        }
    }

    [Fact]
    public void An_address_in_use_is_an_IOException_naming_it()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        using var metrics = new MilterMetrics();

        var e = Assert.Throws<IOException>(() => MetricsEndpoint.Start(Parse($"http://127.0.0.1:{port}/metrics"), metrics,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));

        Assert.Equal($"cannot listen on Metrics:Listen http://127.0.0.1:{port}/metrics: Address already in use", e.Message);
    }

    private static MetricsListenAddress Parse(string text)
    {
        Assert.True(MetricsListenAddress.TryParse(text, out var address, out var error), error);
        return address;
    }

    [Theory]
    [InlineData("http://127.0.0.1:9464/metrics", "127.0.0.1", 9464, "/metrics")]
    [InlineData("http://[::1]:9464/metrics", "::1", 9464, "/metrics")]
    [InlineData("http://0.0.0.0:9100/", "0.0.0.0", 9100, "/")]
    [InlineData("http://localhost:9464/prom/metrics", "127.0.0.1", 9464, "/prom/metrics")]
    public void Good_listen_values(string text, string ip, int port, string path)
    {
        var a = Parse(text);
        Assert.Equal((IPAddress.Parse(ip), port, path), (a.Address, a.Port, a.Path));
    }

    [Theory]
    [InlineData("127.0.0.1:9464", "expected an http:// URL")]
    [InlineData("https://127.0.0.1:9464/metrics", "expected an http:// URL")]
    [InlineData("http://127.0.0.1/metrics", "the port is needed")]
    [InlineData("http://127.0.0.1:0/metrics", "the port must be between 1 and 65535")]
    [InlineData("http://metrics.example.net:9464/metrics", "the host must be an IP address or localhost")]
    [InlineData("http://127.0.0.1:9464/metrics?x=1", "no user, query or fragment")]
    [InlineData("http://u:p@127.0.0.1:9464/metrics", "no user, query or fragment")]
    public void Bad_listen_values_say_what_is_wrong(string text, string problem)
    {
        Assert.False(MetricsListenAddress.TryParse(text, out _, out var error));
        Assert.StartsWith(problem, error, StringComparison.Ordinal);
    }
}
