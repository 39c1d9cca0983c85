using System.Globalization;
using System.Text.Json;
using Milter.MailAuth.Dkim;
using Milter.Reporting.Aggregate;
using Milter.TestKit;
using Milter.TestKit.Databases;
using Milter.TestKit.Dns;
using Milter.TestKit.Postfix;
using Milter.Tests.Fixtures;
using Milter.Tests.Reporting;
using Xunit.Abstractions;

namespace Milter.Tests.EndToEnd;

/// <summary>
/// A fleet of relays on one PostgreSQL report store, through the real executables: `milter run` daemons fed by
/// `milter bench` (verify mode: DKIM-signed mail from outside, DMARC evaluated against Knot), `milter report` runs
/// mailing to a Postfix smtp-sink that counts. Latency figures go to the test output; nothing asserts a timing.
/// </summary>
public sealed class FleetReportStoreTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Domain = "fleet.test";
    private PostgresInstance _postgres = null!;
    private KnotDnsServer _dns = null!;
    private TempDir _dir = null!;
    private string _config = null!;
    private string _keyFile = null!;

    public async Task InitializeAsync()
    {
        _dir = new TempDir("fleet");
        using var rsa = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        _keyFile = _dir.File("rsa.private");
        await File.WriteAllTextAsync(_keyFile, rsa.ExportPkcs8Pem());
        File.SetUnixFileMode(_keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // The TLD zone too, so the DMARC tree walk's query for _dmarc.test gets NXDOMAIN (not REFUSED).
        _dns = await KnotDnsServer.StartAsync(new DnsZone(Domain)
            .Txt("rsa._domainkey", rsa.PublicKeyRecord)
            .Txt("_dmarc", $"v=DMARC1; p=none; rua=mailto:dmarc@{Domain}"), new DnsZone("test"));
        _config = _dir.File("milter.json");
        await File.WriteAllTextAsync(_config, JsonSerializer.Serialize(new
        {
            AuthservId = "relay.fleet.test",
            Dns = new { Servers = new[] { $"127.0.0.1:{_dns.Port}" } },
            Signing = new { InternalHosts = new[] { "127.0.0.1" } },
        }));
        _postgres = await PostgresInstance.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _postgres.DisposeAsync();
        await _dns.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<(MilterDaemon Daemon, string Spec)> StartDaemonAsync(string connectionString, int queueCapacity = 10_000)
    {
        var spec = $"inet:{FreePort.Next()}@127.0.0.1";
        var daemon = await MilterDaemon.StartAsync(["--config", _config, "--listen", spec], new Dictionary<string, string>
        {
            ["MILTER_Reports__Store"] = "postgresql",
            ["MILTER_Reports__ConnectionString"] = connectionString,
            ["MILTER_Reports__QueueCapacity"] = queueCapacity.ToString(CultureInfo.InvariantCulture),
        }, timeout: TimeSpan.FromSeconds(60));
        return (daemon, spec);
    }

    /// <summary>`milter bench` in verify mode: the JSON summary (completed, errors, latencyMs...).</summary>
    private async Task<JsonElement> BenchAsync(string spec, int messages)
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["bench", "--connect", spec, "--messages", messages.ToString(CultureInfo.InvariantCulture),
            "--concurrency", "4", "--size", "1024", "--mode", "verify", "--domain", Domain, "--selector", "rsa", "--key", _keyFile, "--json"],
            timeout: TimeSpan.FromMinutes(10));
        Assert.True(code == 0, stdout + stderr);
        var json = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last()).RootElement.Clone();
        Assert.Equal(messages, json.GetProperty("completed").GetInt32());
        Assert.Equal(0, json.GetProperty("errors").GetInt32());
        return json;
    }

    private static string Latency(JsonElement bench)
    {
        var l = bench.GetProperty("latencyMs");
        return $"p50 {l.GetProperty("p50").GetDouble()} ms, p95 {l.GetProperty("p95").GetDouble()} ms, p99 {l.GetProperty("p99").GetDouble()} ms, " +
               $"{bench.GetProperty("messagesPerSecond").GetDouble():F0} msg/s";
    }

    private async Task<long> StoredAsync(string database) =>
        long.Parse((await _postgres.PsqlAsync(database, "SELECT COUNT(*) FROM evaluations;")).EnsureSuccess("count").StdOut.Trim(), CultureInfo.InvariantCulture);

    /// <summary>Waits for the count of stored evaluations; on a wrong count, fails with the daemons' logs.</summary>
    private async Task WaitForStoredAsync(string database, long expected, TimeSpan timeout, params MilterDaemon[] daemons)
    {
        var deadline = DateTime.UtcNow + timeout;
        long stored;
        while ((stored = await StoredAsync(database)) < expected && DateTime.UtcNow < deadline)
            await Task.Delay(250);
        Assert.True(stored == expected, $"{stored} evaluations stored, expected {expected}; the daemons' logs:\n" +
            string.Join("\n", daemons.Select(d => d.Output)));
    }

    /// <summary>Messages each daemon evaluates (the issue's 2 x 5,000: about a minute here, measured 2 x 2,000 in 22 s).</summary>
    private const int PerDaemon = 5_000;

    [Fact]
    public async Task TwoDaemonsOnOneStore_EveryEvaluationStoredOnce_OneReportWithTheSum_TwoReportRunsSendItOnce()
    {
        var connectionString = await _postgres.CreateDatabaseAsync("fleet");
        var (a, specA) = await StartDaemonAsync(connectionString);
        await using var _ = a;
        var (b, specB) = await StartDaemonAsync(connectionString);
        await using var __ = b;

        var started = DateTime.UtcNow;
        var benches = await Task.WhenAll(BenchAsync(specA, PerDaemon), BenchAsync(specB, PerDaemon));
        output.WriteLine($"2 x {PerDaemon} messages in {(DateTime.UtcNow - started).TotalSeconds:F1} s; A: {Latency(benches[0])}; B: {Latency(benches[1])}");
        await WaitForStoredAsync("fleet", 2 * PerDaemon, TimeSpan.FromSeconds(60), a, b);
        Assert.Equal("0", (await _postgres.PsqlAsync("fleet", "SELECT COUNT(*) - COUNT(DISTINCT eval_key) FROM evaluations;")).StdOut.Trim());
        Assert.Equal(0, await a.StopAsync());
        Assert.Equal(0, await b.StopAsync());
        Assert.DoesNotContain(_postgres.Password, a.Output + b.Output, StringComparison.Ordinal);

        await using var sink = await SmtpSink.StartAsync();
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string> { ["MILTER_Reports__Store"] = "postgresql", ["MILTER_Reports__ConnectionString"] = connectionString };
        Task<(int ExitCode, string StdOut, string StdErr)> Report(string outDir) => MilterDaemon.RunCliAsync(["report", "--from", today, "--to", today,
            "--out", _dir.Sub(outDir), "--org-name", "Fleet Org", "--org-email", "dmarc-reports@org.example", "--send", $"smtp://127.0.0.1:{sink.Port}",
            "--dns", $"127.0.0.1:{_dns.Port}"], environment: environment, timeout: TimeSpan.FromMinutes(2));
        var runs = await Task.WhenAll(Report("host-a"), Report("host-b"));
        foreach (var (code, stdout, stderr) in runs)
            Assert.True(code == 0, stdout + stderr);

        // One report for the domain on each host's disk, the same report_id, and every evaluation counted once in it.
        foreach (var outDir in new[] { "host-a", "host-b" })
        {
            var file = Assert.Single(Directory.GetFiles(_dir.Sub(outDir), "*.xml.gz"));
            Assert.Contains($"org.example!{Domain}!", Path.GetFileName(file), StringComparison.Ordinal);
            var doc = AggregateTestData.Gunzip(await File.ReadAllBytesAsync(file));
            var counts = doc.Root!.Elements(AggregateTestData.Ns + "record")
                .Sum(r => int.Parse(AggregateTestData.Text(r.Element(AggregateTestData.Ns + "row")!, "count"), CultureInfo.InvariantCulture));
            Assert.Equal(2 * PerDaemon, counts);
        }
        Assert.Equal(Path.GetFileName(Directory.GetFiles(_dir.Sub("host-a"))[0]), Path.GetFileName(Directory.GetFiles(_dir.Sub("host-b"))[0]));
        Assert.Equal(1, await sink.CountAfterAsync(TimeSpan.FromSeconds(1)));
        Assert.Equal(1, runs.Sum(r => r.StdOut.Split('\n').Count(l => l.StartsWith("sent ", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task PostgreSqlStoppedMidRun_MailKeepsFlowing_DropsPastTheBound_WritesResumeWhenItIsBack()
    {
        // While the database is up, each bench sends fewer messages than the queue holds, so none can be dropped
        // however slowly the writer starts (its first batch opens its connection; the schema was made at start-up:
        // at load that batch took 2 s, and 300 messages against a 200 queue dropped 32). Only the outage fills it.
        const int capacity = 200, up = 150, down = 1_500, after = 150;
        var connectionString = await _postgres.CreateDatabaseAsync("fault");
        var (daemon, spec) = await StartDaemonAsync(connectionString, capacity);
        await using var _ = daemon;

        var upBench = await BenchAsync(spec, up);
        await WaitForStoredAsync("fault", up, TimeSpan.FromSeconds(60), daemon);
        Assert.DoesNotContain("queue full", daemon.Output, StringComparison.Ordinal);

        await _postgres.StopAsync();
        JsonElement downBench;
        try
        {
            downBench = await BenchAsync(spec, down); // every message answered as usual (completed, no errors)
            Assert.True(await daemon.WaitForOutputAsync($"queue full ({capacity})", TimeSpan.FromSeconds(10)), daemon.Output);
        }
        finally
        {
            await _postgres.StartAgainAsync();
        }
        // What was queued (up to the bound, and the batch the writer held) is written once the database is back.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        long stored = 0, previous = -1;
        while (DateTime.UtcNow < deadline && (stored = await StoredAsync("fault")) != previous | stored == up)
        {
            previous = stored;
            await Task.Delay(2_000);
        }
        long keptWhileDown = stored - up;
        Assert.InRange(keptWhileDown, capacity, down - 1);

        var afterBench = await BenchAsync(spec, after);
        await WaitForStoredAsync("fault", stored + after, TimeSpan.FromSeconds(60), daemon);
        Assert.Equal(0, await daemon.StopAsync());
        // The closing line counts what the bound cost: every message of the outage is either stored or dropped.
        var summary = daemon.Output.Split('\n').Single(l => l.Contains("closed:", StringComparison.Ordinal) && l.Contains("DMARC report store", StringComparison.Ordinal));
        Assert.Contains($"{up + keptWhileDown + after} evaluation(s) written, {down - keptWhileDown} dropped (queue full), 0 lost", summary, StringComparison.Ordinal);
        Assert.DoesNotContain(_postgres.Password, daemon.Output, StringComparison.Ordinal);
        output.WriteLine($"database up: {Latency(upBench)}");
        output.WriteLine($"database down: {Latency(downBench)}; {down - keptWhileDown} of {down} evaluations dropped (bound {capacity})");
        output.WriteLine($"database back: {Latency(afterBench)}");
    }
}
