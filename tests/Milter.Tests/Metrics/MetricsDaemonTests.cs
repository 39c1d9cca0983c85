using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.Protocol;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.Tests.Fixtures;
using Xunit.Abstractions;

namespace Milter.Tests.Metrics;

/// <summary>Issue 18 part 1 with a real `milter run`: Debian's Prometheus scrapes Metrics:Listen and a PromQL query
/// gives the counts of the messages the test sent; the bad Metrics:Listen values stop start-up with one line.</summary>
public sealed class MetricsDaemonTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ScrapeWait = TimeSpan.FromSeconds(90);

    private static MilterTransaction Tx(string from) => new()
    {
        Sender = $"<{from}>",
        Recipients = ["<bob@example.org>"],
        Headers = [new("From", " " + from), new("Subject", " metrics")],
        Body = Encoding.ASCII.GetBytes("Hello\r\n"),
        MailMacros = new Dictionary<string, string> { ["i"] = "MET123" },
    };

    private static async Task SendAsync(int port, string clientIp, int count)
    {
        await using var client = await MilterClient.ConnectAsync(ListenSpec.Parse($"inet:{port}@127.0.0.1"), TimeSpan.FromSeconds(10));
        await client.NegotiateAsync();
        await client.ConnectAsync("client.example.test", ConnectFamily.IPv4, 25000, clientIp);
        await client.HeloAsync("client.example.test");
        for (var i = 0; i < count; i++)
        {
            var result = await client.SendMessageAsync(Tx("alice@example.test"));
            Assert.Equal(MilterResponseCode.Continue, result.Reply.Code);
        }
    }

    [Fact]
    public async Task Prometheus_scrapes_the_endpoint_and_PromQL_gives_the_counts_of_the_messages_sent()
    {
        const int outbound = 5, inbound = 2;
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var milterPort = FreePort.Next();
        var metricsPort = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{milterPort}@127.0.0.1"],
            new Dictionary<string, string> { ["MILTER_Metrics__Listen"] = $"http://127.0.0.1:{metricsPort}/metrics" });
        Assert.Contains($"metrics: serving Prometheus metrics on http://127.0.0.1:{metricsPort}/metrics", daemon.Output, StringComparison.Ordinal);
        await using var prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{metricsPort}", "/metrics");

        await SendAsync(milterPort, "127.0.0.1", outbound); // internal host: signed
        await SendAsync(milterPort, "192.0.2.10", inbound); // outside: checked (DNS: the lab's Knot)

        async Task Expect(string promql, double expected)
        {
            var result = await prometheus.WaitForValueAsync(promql, expected, ScrapeWait);
            output.WriteLine($"{promql} => {string.Join("; ", result.Select(r => r.Value))}");
            Assert.True(result.Count == 1 && result[0].Value == expected,
                $"{promql}: expected {expected}, got [{string.Join("; ", result.Select(r => $"{string.Join(',', r.Labels)} = {r.Value}"))}]\n" +
                $"prometheus:\n{prometheus.Output}\nmilter:\n{daemon.Output}");
        }

        await Expect("sum(milter_messages_total{job=\"milter\"})", outbound + inbound);
        await Expect("milter_messages_total{direction=\"outbound\",verdict=\"continue\"}", outbound);
        await Expect("milter_messages_total{direction=\"inbound\",verdict=\"continue\"}", inbound);
        await Expect("milter_signatures_total{domain=\"example.test\",selector=\"rsa\",algorithm=\"rsa-sha256\"}", outbound);
        await Expect("milter_verifications_total{method=\"dkim\",result=\"none\"}", inbound);
        await Expect("milter_eom_duration_seconds_count{direction=\"outbound\"}", outbound);
        await Expect("sum(milter_dns_duration_seconds_count) > bool 0", 1);
        await Expect("milter_queue_depth{queue=\"verification_log\"} >= bool 0", 1);
        await Expect("up{job=\"milter\"}", 1);

        // Every query of the Grafana dashboard runs on this Prometheus (its variables as Grafana would fill them).
        foreach (var expr in DashboardTests.DashboardExpressions())
            await prometheus.QueryAsync(expr.Replace("$job", ".*", StringComparison.Ordinal).Replace("$__rate_interval", "1m", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_metrics_address_in_use_stops_start_up_with_one_line_naming_it()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        using var data = new TempDir("milter-metrics-inuse");

        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--listen", $"inet:{FreePort.Next()}@127.0.0.1"],
            environment: new Dictionary<string, string>
            {
                ["MILTER_Metrics__Listen"] = $"http://127.0.0.1:{port}/metrics",
                ["MILTER_Reports__DataDirectory"] = data.Path,
            });

        Assert.Equal(2, code);
        Assert.Equal($"milter: cannot listen on Metrics:Listen http://127.0.0.1:{port}/metrics: Address already in use\n", stderr);
        Assert.DoesNotContain(" at ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("milter started", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_metrics_address_is_a_config_error()
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run"],
            environment: new Dictionary<string, string> { ["MILTER_Metrics__Listen"] = "127.0.0.1:9464" });

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal("milter: config: Metrics:Listen = \"127.0.0.1:9464\" (from MILTER_Metrics__Listen): expected an http:// URL such as " +
                     "http://127.0.0.1:9464/metrics\n", stderr);
    }
}
