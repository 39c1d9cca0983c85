using System.Diagnostics;
using System.Globalization;
using Milter.Reporting.Aggregate;
using Xunit.Abstractions;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

/// <summary>
/// The store under load, on both engines: N evaluations over two days (half on the reported day), then a day's reports
/// built as `milter report` builds them, then retention deleting the other day while a writer inserts one evaluation at a
/// time. The suite runs it at 20,000 evaluations and asserts only results; the figures (build time, the longest insert
/// while retention ran) go to the test output. For the load: MILTER_REPORT_LOAD=1000000 dotnet test ...
/// --filter FullyQualifiedName~ReportStoreLoadTests --logger "console;verbosity=detailed".
/// </summary>
public sealed class ReportStoreLoadTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    public static TheoryData<ReportStoreKind> Stores => [ReportStoreKind.Sqlite, ReportStoreKind.PostgreSql];

    private static int Size => int.TryParse(Environment.GetEnvironmentVariable("MILTER_REPORT_LOAD"), NumberStyles.None,
        CultureInfo.InvariantCulture, out var n) && n >= 1000 ? n : 20_000;

    private static DmarcEvaluationRecord Evaluation(int i, DateTimeOffset day)
    {
        var domain = $"d{i % 50}.example";
        var ip = $"192.0.2.{i % 200}";
        var time = day.AddMilliseconds((long)i * 86_400_000 / Size * 2 % 86_400_000);
        return i % 4 == 0
            ? Fail(ip, time, Policy(domain, $"mailto:dmarc@{domain}"), domain)
            : Pass(ip, time, Policy(domain, $"mailto:dmarc@{domain}"), domain);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ADaysReports_FromAStoreUnderLoad_AndRetentionBesideAWriter(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        int size = Size, half = size / 2;
        var clock = Stopwatch.StartNew();
        using (var db = target.Open())
        {
            for (int start = 0; start < size; start += 5000)
            {
                db.Insert(Enumerable.Range(start, Math.Min(5000, size - start))
                    .Select(i => Evaluation(i, i < half ? Day.AddDays(-1) : Day)).ToList());
            }
        }
        output.WriteLine($"{kind}: {size} evaluations stored in {clock.Elapsed.TotalSeconds:F1} s");

        clock.Restart();
        IReadOnlyList<AggregateReport> reports;
        using (var db = target.Open())
        {
            var submitter = new ReportSubmitter("Load Org", "dmarc@load.example", "load.example");
            reports = AggregateReportBuilder.FromStore(db, Day, Day.AddDays(1), submitter);
            foreach (var report in reports)
                _ = AggregateReportXml.ToGzip(report);
        }
        output.WriteLine($"{kind}: a day's reports ({size - half} evaluations, {reports.Count} reports) built and gzipped in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(50, reports.Count);
        Assert.Equal(size - half, reports.Sum(r => r.MessageCount));

        // Retention deletes the day before while a writer inserts one evaluation at a time on its own connection.
        using var stop = new CancellationTokenSource();
        var latencies = new List<double>();
        var writer = Task.Run(() =>
        {
            using var db = target.Open();
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                var one = Stopwatch.StartNew();
                db.Insert([Evaluation(i++, Day.AddDays(1))]);
                latencies.Add(one.Elapsed.TotalMilliseconds);
                Thread.Sleep(5);
            }
        });
        clock.Restart();
        long deleted = ReportRetention.Run(target.Location, Day, batch: 0, pause: TimeSpan.FromMilliseconds(20), CancellationToken.None);
        var retention = clock.Elapsed;
        await stop.CancelAsync();
        await writer;
        Assert.Equal(half, deleted);
        latencies.Sort();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{kind}: retention deleted {deleted} in {retention.TotalSeconds:F1} s; {latencies.Count} inserts beside it: p50 {latencies[latencies.Count / 2]:F1} ms, p99 {latencies[latencies.Count * 99 / 100]:F1} ms, max {latencies[^1]:F1} ms"));
        using var check = target.Open();
        Assert.Equal(size - half + latencies.Count, check.Count());
    }
}
