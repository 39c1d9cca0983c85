using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Milter.Reporting.Aggregate;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

/// <summary>The store's schema migrations, its retention, and a database that goes away and comes back.</summary>
public sealed class ReportStoreSchemaTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private readonly CollectingLogger<DmarcReportStore> _logger = new();

    public static TheoryData<ReportStoreKind> Stores => [ReportStoreKind.Sqlite, ReportStoreKind.PostgreSql];

    /// <summary>The version 1 file as Milter wrote it before the send ledger (schema_version 1, no eval_key).</summary>
    private const string Version1Schema = """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE evaluations (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, source_ip TEXT NOT NULL, header_from TEXT NOT NULL,
            envelope_from TEXT NOT NULL, envelope_to TEXT, policy_domain TEXT NOT NULL, discovery_method TEXT NOT NULL, p TEXT NOT NULL,
            sp TEXT, np TEXT, adkim TEXT NOT NULL, aspf TEXT NOT NULL, testing INTEGER NOT NULL, fo TEXT NOT NULL, pct INTEGER,
            rua TEXT NOT NULL, result TEXT NOT NULL, disposition TEXT NOT NULL, dkim_aligned INTEGER NOT NULL, spf_aligned INTEGER NOT NULL,
            reasons TEXT NOT NULL, dkim TEXT NOT NULL, spf_domain TEXT, spf_scope TEXT, spf_result TEXT, spf_human TEXT);
        CREATE INDEX evaluations_time ON evaluations (time_ms);
        INSERT INTO evaluations (time_ms, source_ip, header_from, envelope_from, policy_domain, discovery_method, p, adkim, aspf, testing,
            fo, rua, result, disposition, dkim_aligned, spf_aligned, reasons, dkim)
            VALUES (1773446400000, '198.51.100.7', 'example.com', 'example.com', 'example.com', 'treewalk', 'none', 'r', 'r', 0, '0',
            '["mailto:d@example.com"]', 'pass', 'none', 1, 1, '[]', '[]');
        """;

    [Fact]
    public async Task Version1File_IsMigrated_ItsRowsKept_AndTakesNewWrites()
    {
        using var target = await ReportStoreTarget.CreateAsync(ReportStoreKind.Sqlite, postgres);
        Directory.CreateDirectory(target.DataDirectory);
        await target.SqlAsync(Version1Schema);

        await target.StoreAsync([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))]);

        Assert.Equal(DmarcReportDatabase.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            await target.SqlAsync("SELECT version FROM schema_version;"));
        Assert.Equal("1", await target.SqlAsync("SELECT COUNT(*) FROM schema_version;"));
        var back = target.ReadAll();
        Assert.Equal(["198.51.100.7", "192.0.2.1"], back.Select(r => r.SourceIp));
        Assert.Equal("0", await target.SqlAsync("SELECT COUNT(*) FROM report_sends;"));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task SchemaVersion_IsRecorded_AndTwoOpenersAtOnceCreateItOnce(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        if (kind == ReportStoreKind.Sqlite)
            Directory.CreateDirectory(target.DataDirectory);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => target.Open().Dispose())));
        Assert.Equal(DmarcReportDatabase.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            await target.SqlAsync("SELECT MAX(version) FROM schema_version;"));
        Assert.Equal("1", await target.SqlAsync("SELECT COUNT(*) FROM schema_version;"));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Retention_DeletesWhatIsOlderThanTheCutoff_InBatches(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        var policy = Policy("example.com", "mailto:d@example.com");
        await target.StoreAsync(Enumerable.Range(0, 250).Select(i => Pass("192.0.2.1", Day.AddDays(-2).AddSeconds(i), policy))
            .Concat(Enumerable.Range(0, 50).Select(i => Pass("192.0.2.2", Day.AddSeconds(i), policy))));

        long deleted = ReportRetention.Run(target.Location, Day, batch: 100, pause: TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(250, deleted);
        var left = target.ReadAll();
        Assert.Equal(50, left.Count);
        Assert.All(left, r => Assert.Equal("192.0.2.2", r.SourceIp));
        Assert.Equal(0, ReportRetention.Run(target.Location, Day, batch: 100, pause: TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public void RetentionBatches_HalveAfterAStatementOverItsBudget_AndGrowBackAfterFastOnes()
    {
        var budget = TimeSpan.FromMilliseconds(20);
        Assert.Equal(100, ReportRetention.NextBatch(200, TimeSpan.FromMilliseconds(60), budget, most: 200));
        Assert.Equal(ReportRetention.MinBatch, ReportRetention.NextBatch(30, TimeSpan.FromMilliseconds(60), budget, most: 200));
        Assert.Equal(5, ReportRetention.NextBatch(5, TimeSpan.FromMilliseconds(60), budget, most: 5));
        Assert.Equal(100, ReportRetention.NextBatch(100, TimeSpan.FromMilliseconds(15), budget, most: 200));
        Assert.Equal(126, ReportRetention.NextBatch(100, TimeSpan.FromMilliseconds(2), budget, most: 200));
        Assert.Equal(200, ReportRetention.NextBatch(190, TimeSpan.FromMilliseconds(2), budget, most: 200));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Store_WithRetentionDays_DeletesOldEvaluationsOnItsOwn(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        var now = DateTimeOffset.UtcNow;
        var policy = Policy("example.com", "mailto:d@example.com");
        await target.StoreAsync([Pass("192.0.2.1", now.AddDays(-40), policy), Pass("192.0.2.2", now.AddHours(-1), policy)]);

        await using var store = new DmarcReportStore(target.Location, _logger, TimeProvider.System, new DmarcReportStoreOptions { RetentionDays = 30 });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (store.DeletedCount == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Equal(1, store.DeletedCount);
        Assert.Equal(["192.0.2.2"], target.ReadAll().Select(r => r.SourceIp));
    }

    [Fact]
    public async Task PostgreSqlDown_EvaluationsQueueToTheBound_ThenAreDropped_AndWritesResumeWhenItIsBack()
    {
        using var target = await ReportStoreTarget.CreateAsync(ReportStoreKind.PostgreSql, postgres);
        var policy = Policy("example.com", "mailto:d@example.com");
        var options = new DmarcReportStoreOptions { Capacity = 50, MaxBatch = 10, RetryInterval = TimeSpan.FromMilliseconds(200) };
        await using var store = new DmarcReportStore(target.Location, _logger, TimeProvider.System, options);
        for (int i = 0; i < 20; i++)
            Assert.True(store.TryEnqueue(Pass("192.0.2.1", Day.AddSeconds(i), policy)));
        await WaitAsync(() => store.WrittenCount == 20, "the first 20 written");

        await target.Postgres!.StopAsync();
        try
        {
            int accepted = 0;
            var slowest = TimeSpan.Zero;
            for (int i = 0; i < 300; i++)
            {
                var started = Stopwatch.GetTimestamp();
                accepted += store.TryEnqueue(Pass("192.0.2.2", Day.AddSeconds(i), policy)) ? 1 : 0;
                var took = Stopwatch.GetElapsedTime(started);
                slowest = took > slowest ? took : slowest;
                if (i % 20 == 0)
                    await Task.Delay(20);
            }
            // The queue (50) and the batch the writer holds (at most 10) take evaluations; the rest are dropped, counted.
            Assert.InRange(accepted, options.Capacity, options.Capacity + options.MaxBatch);
            Assert.Equal(300 - accepted, store.DroppedCount);
            Assert.True(slowest < TimeSpan.FromSeconds(1), $"TryEnqueue took {slowest.TotalMilliseconds} ms while the database was down");
            Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("DMARC report store", StringComparison.Ordinal));
            Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("dropped", StringComparison.Ordinal));
            Assert.DoesNotContain(_logger.Entries, e => (e.Message + e.Exception).Contains(target.Postgres.Password, StringComparison.Ordinal));

            await target.Postgres.StartAgainAsync();
            await WaitAsync(() => store.WrittenCount == 20 + accepted, "the queued evaluations written after the restart");
            Assert.Equal(0, store.LostCount);
            Assert.Equal(20 + accepted, target.ReadAll().Count);
            Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("again", StringComparison.Ordinal));
        }
        finally
        {
            if (target.Postgres.Pid == 0)
                await target.Postgres.StartAgainAsync();
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition() && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.True(condition(), "timed out waiting for " + what);
    }
}
