using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Milter.Reporting.Aggregate;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

/// <summary>The report store's writer. Cases with a <see cref="ReportStoreKind"/> run against both stores (the SQLite
/// file and a real PostgreSQL server from <see cref="PostgresFixture"/>); the others are about SQLite's file.</summary>
public sealed class AggregateStoreTests(PostgresFixture postgres) : IDisposable, IClassFixture<PostgresFixture>
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-dmarcstore-").FullName;
    private readonly CollectingLogger<DmarcReportStore> _logger = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<ReportStoreKind> Stores => [ReportStoreKind.Sqlite, ReportStoreKind.PostgreSql];

    private static List<DmarcEvaluationRecord> ReadAll(string dataDir)
    {
        using var db = DmarcReportDatabase.Open(DmarcReportStore.PathIn(dataDir), create: false);
        return db.Query(DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue.AddDays(-1)).ToList();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task RoundTrip_EveryFieldComesBack(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        var policy7489 = new DmarcPublishedPolicy("example.org", "psl", "quarantine", "none", null, "s", "r", false, "1:d", 50,
            ["mailto:a@example.org", "mailto:b@example.net"]);
        var records = new[]
        {
            Pass("192.0.2.1", Day.AddHours(1).AddMilliseconds(123), Policy("example.com", "mailto:dmarc@example.com")),
            Fail("2001:db8::1", Day.AddHours(2), policy7489, "sub.example.org") with { Spf = null, EnvelopeFrom = "" },
            Fail("192.0.2.2", Day.AddHours(3), Policy("example.com") with { Testing = true }) with
            {
                Spf = new DmarcSpfAuth("helo.example", "helo", "none", "no SPF record"),
                Reasons = [new DmarcPolicyReason("policy_test_mode", "t=y"), new DmarcPolicyReason("local_policy")],
                Dkim = [],
            },
        };
        await using (var store = new DmarcReportStore(target.Location, _logger, TimeProvider.System, new DmarcReportStoreOptions()))
        {
            foreach (var r in records)
                Assert.True(store.TryEnqueue(r));
        }

        var back = target.ReadAll();
        Assert.Equal(records.Length, back.Count);
        for (int i = 0; i < records.Length; i++)
        {
            var (a, b) = (records[i], back[i]);
            Assert.Equal(a.Time, b.Time);
            Assert.Equal(a.Policy with { Rua = [] }, b.Policy with { Rua = [] });
            Assert.Equal(a.Policy.Rua, b.Policy.Rua);
            Assert.Equal(a.Dkim, b.Dkim);
            Assert.Equal(a.Reasons, b.Reasons);
            Assert.Equal(a with { Policy = b.Policy, Dkim = b.Dkim, Reasons = b.Reasons }, b);
        }
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public async Task File_IsWal_WithSchemaVersionAndIndexes()
    {
        await using (var store = new DmarcReportStore(_dir, _logger, TimeProvider.System))
            Assert.True(store.TryEnqueue(Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))));

        using var connection = new SqliteConnection($"Data Source={DmarcReportStore.PathIn(_dir)};Pooling=False");
        connection.Open();
        string Scalar(string sql)
        {
            using var c = connection.CreateCommand();
            c.CommandText = sql;
            return Convert.ToString(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
        }
        Assert.Equal("wal", Scalar("PRAGMA journal_mode;"));
        Assert.Equal(DmarcReportDatabase.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar("SELECT version FROM schema_version;"));
        Assert.Equal("1", Scalar("SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name='evaluations_time';"));
        Assert.Equal("1", Scalar("SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name='evaluations_header_from';"));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task NewerSchema_IsRefusedWithAnErrorLine_NotACrash(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        target.Open().Dispose();
        await target.SqlAsync("UPDATE schema_version SET version = 99;");
        await using (var store = new DmarcReportStore(target.Location, _logger, TimeProvider.System, new DmarcReportStoreOptions()))
        {
            Assert.True(store.TryEnqueue(Pass("192.0.2.1", Day, Policy("example.com"))));
            await store.DisposeAsync();
            Assert.Equal(1, store.LostCount);
            Assert.Equal(0, store.WrittenCount);
        }
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("schema version 99", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task TwoStoresOnOneDatabase_WriteConcurrently_NothingLostOrCorrupted(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        const int each = 2000;
        var options = new DmarcReportStoreOptions { MaxBatch = 50, Capacity = each };
        var a = new DmarcReportStore(target.Location, _logger, TimeProvider.System, options);
        var b = new DmarcReportStore(target.Location, _logger, TimeProvider.System, options);
        var writers = new[] { (Store: a, Ip: "192.0.2.1"), (Store: b, Ip: "192.0.2.2") }.Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < each; i++)
            {
                Assert.True(w.Store.TryEnqueue(Pass(w.Ip, Day.AddSeconds(i), Policy("example.com", "mailto:d@example.com"))));
                if (i % 100 == 0)
                    await Task.Yield();
            }
        })).ToArray();
        await Task.WhenAll(writers);
        await a.DisposeAsync();
        await b.DisposeAsync();

        Assert.Empty(_logger.Entries);
        Assert.Equal(each, a.WrittenCount);
        Assert.Equal(each, b.WrittenCount);
        var back = target.ReadAll();
        Assert.Equal(each, back.Count(r => r.SourceIp == "192.0.2.1"));
        Assert.Equal(each, back.Count(r => r.SourceIp == "192.0.2.2"));
        if (kind == ReportStoreKind.Sqlite)
            Assert.Equal("ok", await target.SqlAsync("PRAGMA integrity_check;"));
    }

    [Fact]
    public async Task AnotherProcessWritingTheSameFile_BothSetsArriveIntact()
    {
        // A second process (python3's sqlite3, its own SQLite library and file locks) inserts while the store writes.
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
            throw new FileNotFoundException($"{python} not found: install the Debian package python3");
        string dbPath = DmarcReportStore.PathIn(_dir);
        using (DmarcReportDatabase.Open(dbPath, create: true))
        {
        }
        const int each = 1500;
        string script = $$"""
            import sqlite3
            db = sqlite3.connect({{'"'}}{{dbPath}}{{'"'}}, timeout=30, isolation_level=None)
            for i in range({{each}}):
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO evaluations (time_ms, source_ip, header_from, envelope_from, policy_domain, discovery_method, p, adkim, aspf, testing, fo, rua, result, disposition, dkim_aligned, spf_aligned, reasons, dkim) VALUES (?, '198.51.100.7', 'example.com', 'example.com', 'example.com', 'treewalk', 'none', 'r', 'r', 0, '0', '[]', 'pass', 'none', 1, 1, '[]', '[]')", ({{Day.ToUnixTimeMilliseconds()}} + i,))
                db.execute("COMMIT")
            print("done")
            """;
        var other = Milter.TestKit.ProcessRunner.RunAsync(python, ["-c", script], timeout: TimeSpan.FromSeconds(120));
        await using (var store = new DmarcReportStore(_dir, _logger, TimeProvider.System, new DmarcReportStoreOptions { MaxBatch = 10, Capacity = each }))
        {
            for (int i = 0; i < each; i++)
            {
                Assert.True(store.TryEnqueue(Pass("192.0.2.9", Day.AddSeconds(i), Policy("example.com"))));
                if (i % 10 == 0)
                    await Task.Delay(1);
            }
            await store.DisposeAsync();
            Assert.Equal(each, store.WrittenCount);
        }
        var result = await other;
        Assert.True(result.ExitCode == 0, result.Describe());
        var back = ReadAll(_dir);
        Assert.Equal(each, back.Count(r => r.SourceIp == "192.0.2.9"));
        Assert.Equal(each, back.Count(r => r.SourceIp == "198.51.100.7"));
    }

    [Fact]
    public async Task UnusableDataDirectory_LogsAnError_NeverThrows()
    {
        string blocker = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(blocker, "not a directory");
        await using var store = new DmarcReportStore(Path.Combine(blocker, "data"), _logger, TimeProvider.System);
        for (int i = 0; i < 5; i++)
            Assert.True(store.TryEnqueue(Pass("192.0.2.1", Day, Policy("example.com"))));
        await store.DisposeAsync();
        Assert.Equal(5, store.LostCount);
        Assert.Equal(0, store.WrittenCount);
        Assert.Equal(1, _logger.Count(LogLevel.Error)); // rate-limited: one line for the whole burst
        Assert.Contains("cannot open", _logger.Entries.Single(e => e.Level == LogLevel.Error).Message, StringComparison.Ordinal);
        Assert.Contains("0 evaluation(s) written, 0 dropped (queue full), 5 lost", _logger.Entries.Single(e => e.Level == LogLevel.Warning).Message, StringComparison.Ordinal);
        Assert.False(store.TryEnqueue(Pass("192.0.2.1", Day, Policy("example.com")))); // closed
    }

    [Fact]
    public async Task FullQueue_DropsAtOnce_CountsAndWarnsOnce()
    {
        var gate = new ManualResetEventSlim(false);
        // Hold the writer inside its first error line (the data directory is unusable), so the queue fills.
        string blocker = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(blocker, "x");
        _logger.OnLog = level => { if (level == LogLevel.Error) gate.Wait(TimeSpan.FromSeconds(20)); };
        var store = new DmarcReportStore(Path.Combine(blocker, "d"), _logger, TimeProvider.System,
            new DmarcReportStoreOptions { Capacity = 4, MaxBatch = 1 });
        Assert.True(store.TryEnqueue(Pass("192.0.2.1", Day, Policy("example.com"))));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_logger.Count(LogLevel.Error) == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        int accepted = 0;
        for (int i = 0; i < 20; i++)
            accepted += store.TryEnqueue(Pass("192.0.2.1", Day, Policy("example.com"))) ? 1 : 0;
        Assert.Equal(4, accepted);
        Assert.Equal(16, store.DroppedCount);
        Assert.Equal(1, _logger.Count(LogLevel.Warning));
        gate.Set();
        await store.DisposeAsync();
        Assert.Equal(5, store.LostCount);
    }
}
