using Microsoft.Extensions.Logging.Abstractions;
using Milter.Reporting.Aggregate;
using Milter.Tests.Fixtures;
using Milter.TestKit.Dns;
using Milter.TestKit.Postfix;
using MimeKit;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

/// <summary>`milter report` through the real executable: files parsed back and checked against the stored
/// evaluations; --send to a real Postfix smtp-sink with the external-destination check served by Knot. Cases with a
/// <see cref="ReportStoreKind"/> run against both stores (SQLite, and a real PostgreSQL from <see cref="PostgresFixture"/>).</summary>
public sealed class AggregateReportCommandTests(PostgresFixture postgres) : IDisposable, IClassFixture<PostgresFixture>
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-report-cli-").FullName;
    private readonly List<ReportStoreTarget> _targets = [];
    private ReportStoreTarget? _target;
    private string OutDir => Path.Combine(_dir, "out");

    public static TheoryData<ReportStoreKind> Stores => [ReportStoreKind.Sqlite, ReportStoreKind.PostgreSql];

    public void Dispose()
    {
        foreach (var t in _targets)
            t.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The store of this test (SQLite unless a case chose one with <see cref="UseAsync"/>).</summary>
    private ReportStoreTarget Target => _target ?? throw new InvalidOperationException("call UseAsync first");
    private string DataDir => Target.DataDirectory;

    private async Task UseAsync(ReportStoreKind kind)
    {
        _target = await ReportStoreTarget.CreateAsync(kind, postgres);
        _targets.Add(_target);
    }

    private async Task StoreAsync(IEnumerable<DmarcEvaluationRecord> evaluations)
    {
        if (_target is null)
            await UseAsync(ReportStoreKind.Sqlite);
        await Target.StoreAsync(evaluations);
    }

    private Task<(int ExitCode, string StdOut, string StdErr)> ReportAsync(params string[] extra) => ReportToAsync(OutDir, extra);

    private Task<(int ExitCode, string StdOut, string StdErr)> ReportToAsync(string outDir, params string[] extra) =>
        MilterDaemon.RunCliAsync(["report", "--from", "2026-03-14", "--to", "2026-03-14", "--out", outDir, .. Target.CliArgs,
            "--org-name", "Receiver Org", "--org-email", "dmarc@receiver.example", .. extra], environment: Target.Environment,
            timeout: TimeSpan.FromSeconds(120));

    /// <summary>Evaluations on the day and on both sides of it; three policy domains, one without rua=.</summary>
    private static List<DmarcEvaluationRecord> Evaluations()
    {
        var com = Policy("example.com", "mailto:dmarc@example.com");
        var org = Policy("example.org", "mailto:agg@reports.example.net", "mailto:agg@refused.example.net");
        var list = new List<DmarcEvaluationRecord>();
        var random = new Random(7);
        string[] ips = ["192.0.2.1", "192.0.2.2", "2001:db8::1"];
        for (int i = 0; i < 60; i++)
        {
            var time = Day.AddSeconds(random.Next(0, 86400));
            var ip = ips[random.Next(ips.Length)];
            list.Add(i % 3 == 0 ? Fail(ip, time, com, i % 2 == 0 ? "example.com" : "sub.example.com") : Pass(ip, time, com));
        }
        for (int i = 0; i < 7; i++)
            list.Add(Pass("198.51.100.5", Day.AddHours(i), org, "example.org"));
        list.Add(Pass("192.0.2.1", Day.AddHours(1), Policy("norua.example"), "norua.example"));
        list.Add(Pass("192.0.2.1", Day.AddSeconds(-1), com)); // the day before
        list.Add(Pass("192.0.2.1", Day.AddDays(1), com));     // the day after
        return list;
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task WritesOneGzipReportPerDomainWithRua_EveryCountMatchesTheStore(ReportStoreKind kind)
    {
        await UseAsync(kind);
        var evaluations = Evaluations();
        await StoreAsync(evaluations);

        var (code, stdout, stderr) = await ReportAsync();
        Assert.True(code == 0, stdout + stderr);

        long begin = Day.ToUnixTimeSeconds(), end = begin + 86399;
        var files = Directory.GetFiles(OutDir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, files.Count);
        Assert.Matches($@"^receiver\.example!example\.com!{begin}!{end}![A-Za-z0-9]+\.xml\.gz$", files[0]);
        Assert.Matches($@"^receiver\.example!example\.org!{begin}!{end}![A-Za-z0-9]+\.xml\.gz$", files[1]);

        var inPeriod = evaluations.Where(e => e.Time >= Day && e.Time < Day.AddDays(1) && e.Policy.Rua.Count > 0).ToList();
        foreach (var file in files)
        {
            var doc = Gunzip(await File.ReadAllBytesAsync(Path.Combine(OutDir, file!)));
            var root = doc.Root!;
            var meta = root.Element(Ns + "report_metadata")!;
            Assert.Equal("Receiver Org", Text(meta, "org_name"));
            Assert.Equal("dmarc@receiver.example", Text(meta, "email"));
            Assert.EndsWith("!" + Text(meta, "report_id") + ".xml.gz", file, StringComparison.Ordinal);
            Assert.Equal(begin.ToString(System.Globalization.CultureInfo.InvariantCulture), Text(meta.Element(Ns + "date_range")!, "begin"));
            Assert.Equal(end.ToString(System.Globalization.CultureInfo.InvariantCulture), Text(meta.Element(Ns + "date_range")!, "end"));
            string domain = Text(root.Element(Ns + "policy_published")!, "domain");
            var stored = inPeriod.Where(e => e.Policy.Domain == domain).ToList();

            // Every stored evaluation is counted exactly once, in the row with its source IP and results.
            var expected = stored.GroupBy(RowKey).ToDictionary(g => g.Key, g => g.Count());
            var actual = root.Elements(Ns + "record").ToDictionary(RowKey,
                r => int.Parse(Text(r.Element(Ns + "row")!, "count"), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(expected.OrderBy(kv => kv.Key), actual.OrderBy(kv => kv.Key));
            Assert.Equal(stored.Count, actual.Values.Sum());
        }
        Assert.Contains("example.com", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("norua.example", string.Join(" ", files), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task RerunForTheSamePeriod_ReusesTheFileNames(ReportStoreKind kind)
    {
        await UseAsync(kind);
        await StoreAsync(Evaluations());
        Assert.Equal(0, (await ReportAsync()).ExitCode);
        var first = Directory.GetFiles(OutDir).Order(StringComparer.Ordinal).ToList();
        Directory.Delete(OutDir, recursive: true);
        Assert.Equal(0, (await ReportAsync()).ExitCode);
        Assert.Equal(first, Directory.GetFiles(OutDir).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("2026-13-01", "2026-03-14")]
    [InlineData("yesterday", "2026-03-14")]
    [InlineData("2026-03-14", "14/03/2026")]
    [InlineData("2026-03-15", "2026-03-14")] // --to before --from
    public async Task BadDates_AreUsageErrors_Exit2(string from, string to)
    {
        await StoreAsync([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))]);
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["report", "--from", from, "--to", to, "--out", OutDir, "--data-dir", DataDir]);
        Assert.Equal(2, code);
        Assert.StartsWith("milter: report: --", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(OutDir) && Directory.EnumerateFiles(OutDir).Any());
    }

    [Fact]
    public async Task Without_data_dir_the_store_is_where_the_configuration_puts_it()
    {
        await StoreAsync([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))]);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["report", "--from", "2026-03-14", "--to", "2026-03-14", "--out", OutDir, "--org-name", "R", "--org-email", "d@r.example"],
            environment: new Dictionary<string, string> { ["MILTER_Reports__DataDirectory"] = DataDir });
        Assert.True(code == 0, $"exit {code}: {stdout}{stderr}");
        Assert.Single(Directory.EnumerateFiles(OutDir));
    }

    [Fact]
    public async Task MissingStoreOrBadSendUri_AreUsageErrors_Exit2()
    {
        await UseAsync(ReportStoreKind.Sqlite);
        var (code, _, stderr) = await ReportAsync();
        Assert.Equal(2, code);
        Assert.Contains("no report store", stderr, StringComparison.Ordinal);
        await StoreAsync([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))]);
        (code, _, stderr) = await ReportAsync("--send", "http://127.0.0.1:25");
        Assert.Equal(2, code);
        Assert.Contains("--send", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Send_MailsEachAuthorizedRua_RefusesTheUnverifiedExternalOne(ReportStoreKind kind)
    {
        await UseAsync(kind);
        // reports.example.net accepts reports for example.org; refused.example.net publishes nothing for it.
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("example.net")
            .Txt("example.org._report._dmarc.reports", "v=DMARC1")
            .Txt("other.example._report._dmarc.refused", "v=DMARC1"));
        await using var sink = await SmtpSink.StartAsync();
        await StoreAsync(Evaluations());

        var (code, stdout, stderr) = await ReportAsync("--send", $"smtp://127.0.0.1:{sink.Port}", "--dns", $"127.0.0.1:{knot.Port}");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("skipped agg@refused.example.net for example.org: no v=DMARC1 record at example.org._report._dmarc.refused.example.net",
            stdout, StringComparison.Ordinal);

        var messages = (await sink.WaitForMessagesAsync(2, TimeSpan.FromSeconds(20)))
            .Select(f => MimeMessage.Load(new MemoryStream(SmtpSink.StripSinkHeaders(f)))).ToList();
        Assert.Equal(2, await sink.CountAfterAsync(TimeSpan.FromMilliseconds(500)));
        var to = messages.Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["agg@reports.example.net", "dmarc@example.com"], to);
        foreach (var message in messages)
        {
            var attachment = Assert.IsType<MimePart>(Assert.Single(message.Attachments));
            Assert.Equal("application/gzip", attachment.ContentType.MimeType);
            using var content = new MemoryStream();
            await attachment.Content!.DecodeToAsync(content);
            var doc = Gunzip(content.ToArray());
            var meta = doc.Root!.Element(Ns + "report_metadata")!;
            string domain = Text(doc.Root!.Element(Ns + "policy_published")!, "domain");
            string id = Text(meta, "report_id");
            Assert.Equal($"Report Domain: {domain} Submitter: receiver.example Report-ID: <{id}>", message.Subject);
            Assert.Equal("dmarc@receiver.example", message.From.Mailboxes.Single().Address);
            Assert.EndsWith($"!{id}.xml.gz", attachment.FileName, StringComparison.Ordinal);
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(OutDir, attachment.FileName!)), content.ToArray());
            Assert.Equal(domain == "example.com" ? "dmarc@example.com" : "agg@reports.example.net", message.To.Mailboxes.Single().Address);
        }
    }

    [Fact]
    public async Task Send_DnsTimeoutOnTheCheck_IsATemporaryFailure_Exit3()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        await using var sink = await SmtpSink.StartAsync();
        await StoreAsync([Pass("198.51.100.5", Day, Policy("example.org", "mailto:agg@reports.example.net"), "example.org")]);
        var (code, stdout, stderr) = await ReportAsync("--send", $"smtp://127.0.0.1:{sink.Port}", "--dns", $"127.0.0.1:{blackhole.Port}");
        Assert.True(code == 3, stdout + stderr);
        Assert.Contains("skipped agg@reports.example.net for example.org: TXT example.org._report._dmarc.reports.example.net", stdout, StringComparison.Ordinal);
        Assert.Equal(0, await sink.CountAfterAsync(TimeSpan.FromMilliseconds(300)));
    }

    /// <summary>Knot answering the external-destination check: reports.example.net takes example.org's reports.</summary>
    private static Task<KnotDnsServer> ReportDnsAsync() => KnotDnsServer.StartAsync(new DnsZone("example.net")
        .Txt("example.org._report._dmarc.reports", "v=DMARC1"));

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task TwoRunsAtOnce_SendEachReportOnce_AndALaterRunSendsNothing(ReportStoreKind kind)
    {
        await UseAsync(kind);
        await using var knot = await ReportDnsAsync();
        await using var sink = await SmtpSink.StartAsync();
        await StoreAsync(Evaluations());
        string[] send = ["--send", $"smtp://127.0.0.1:{sink.Port}", "--dns", $"127.0.0.1:{knot.Port}"];

        // Two hosts' cron jobs at the same minute (each its own --out).
        var runs = await Task.WhenAll(ReportToAsync(Path.Combine(_dir, "a"), send), ReportToAsync(Path.Combine(_dir, "b"), send));
        foreach (var (code, stdout, stderr) in runs)
            Assert.True(code == 0, stdout + stderr);

        // Two reports (example.com to dmarc@example.com, example.org to agg@reports.example.net): each sent once in all.
        Assert.Equal(2, await sink.CountAfterAsync(TimeSpan.FromSeconds(1)));
        var sent = runs.SelectMany(r => r.StdOut.Split('\n')).Where(l => l.StartsWith("sent ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, sent.Count);
        Assert.Equal(2, runs.SelectMany(r => r.StdOut.Split('\n')).Count(l => l.Contains("already sent, or being sent by another run", StringComparison.Ordinal)));

        var again = await ReportToAsync(Path.Combine(_dir, "c"), send);
        Assert.True(again.ExitCode == 0, again.StdOut + again.StdErr);
        Assert.DoesNotContain("\nsent ", "\n" + again.StdOut, StringComparison.Ordinal);
        Assert.Equal(2, await sink.CountAfterAsync(TimeSpan.FromMilliseconds(500)));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ARunThatDiedMidSend_IsRetriedOnceItsLeaseRunsOut_ALiveLeaseIsLeftAlone(ReportStoreKind kind)
    {
        await UseAsync(kind);
        await using var knot = await ReportDnsAsync();
        await using var sink = await SmtpSink.StartAsync();
        await StoreAsync(Evaluations());
        long begin = Day.ToUnixTimeSeconds(), end = begin + 86399;
        string comId = AggregateReportBuilder.ReportId("receiver.example", "example.com", begin, end);
        string orgId = AggregateReportBuilder.ReportId("receiver.example", "example.org", begin, end);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // example.com: claimed by a run that died (its lease ran out a minute ago); example.org: being sent right now.
        await Target.SqlAsync($"""
            INSERT INTO report_sends (send_key, report_id, policy_domain, address, owner, lease_until_ms, attempts, sent_ms) VALUES
            ('{comId} dmarc@example.com', '{comId}', 'example.com', 'dmarc@example.com', 'dead-host:1:x', {now - 60_000}, 1, NULL),
            ('{orgId} agg@reports.example.net', '{orgId}', 'example.org', 'agg@reports.example.net', 'live-host:2:y', {now + 600_000}, 1, NULL);
            """);

        var (code, stdout, stderr) = await ReportAsync("--send", $"smtp://127.0.0.1:{sink.Port}", "--dns", $"127.0.0.1:{knot.Port}");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains($"sent {comId} for example.com to dmarc@example.com", stdout, StringComparison.Ordinal);
        Assert.Contains($"not sent {orgId} for example.org to agg@reports.example.net: already sent, or being sent by another run", stdout, StringComparison.Ordinal);
        var message = MimeMessage.Load(new MemoryStream(SmtpSink.StripSinkHeaders((await sink.WaitForMessagesAsync(1, TimeSpan.FromSeconds(20)))[0])));
        Assert.Equal("dmarc@example.com", message.To.Mailboxes.Single().Address);
        Assert.Equal(1, await sink.CountAfterAsync(TimeSpan.FromMilliseconds(500)));
        using var db = Target.Open();
        Assert.Equal((true, 2), db.SendState($"{comId} dmarc@example.com"));
        Assert.Equal((false, 1), db.SendState($"{orgId} agg@reports.example.net"));
    }

    [Fact]
    public async Task SharedStore_WithoutOrgEmail_IsAUsageError_TheReportMustNameTheOrganisationNotTheHost()
    {
        await UseAsync(ReportStoreKind.PostgreSql);
        await StoreAsync([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))]);
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["report", "--from", "2026-03-14", "--to", "2026-03-14", "--out", OutDir],
            environment: Target.Environment);
        Assert.Equal(2, code);
        Assert.Contains("--org-email", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(Target.Postgres!.Password, stderr, StringComparison.Ordinal);
    }
}
