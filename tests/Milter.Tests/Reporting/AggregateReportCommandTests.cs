using Microsoft.Extensions.Logging.Abstractions;
using Milter.Reporting.Aggregate;
using Milter.Tests.Fixtures;
using Milter.TestKit.Dns;
using Milter.TestKit.Postfix;
using MimeKit;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

/// <summary>`milter report` through the real executable: files parsed back and checked against the stored
/// evaluations; --send to a real Postfix smtp-sink with the external-destination check served by Knot.</summary>
public sealed class AggregateReportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-report-cli-").FullName;
    private string DataDir => Path.Combine(_dir, "data");
    private string OutDir => Path.Combine(_dir, "out");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task StoreAsync(IEnumerable<DmarcEvaluationRecord> evaluations)
    {
        await using var store = new DmarcReportStore(DataDir, NullLogger.Instance, TimeProvider.System);
        foreach (var e in evaluations)
            Assert.True(store.TryEnqueue(e));
        await store.DisposeAsync();
        Assert.Equal(0, store.LostCount);
    }

    private Task<(int ExitCode, string StdOut, string StdErr)> ReportAsync(params string[] extra) =>
        MilterDaemon.RunCliAsync(["report", "--from", "2026-03-14", "--to", "2026-03-14", "--out", OutDir, "--data-dir", DataDir,
            "--org-name", "Receiver Org", "--org-email", "dmarc@receiver.example", .. extra]);

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

    [Fact]
    public async Task WritesOneGzipReportPerDomainWithRua_EveryCountMatchesTheStore()
    {
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

    [Fact]
    public async Task RerunForTheSamePeriod_ReusesTheFileNames()
    {
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
        var (code, _, stderr) = await ReportAsync();
        Assert.Equal(2, code);
        Assert.Contains("no report store", stderr, StringComparison.Ordinal);
        await StoreAsync([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))]);
        (code, _, stderr) = await ReportAsync("--send", "http://127.0.0.1:25");
        Assert.Equal(2, code);
        Assert.Contains("--send", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_MailsEachAuthorizedRua_RefusesTheUnverifiedExternalOne()
    {
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
}
