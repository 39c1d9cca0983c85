using Milter.Reporting.Aggregate;
using Milter.TestKit;
using Milter.TestKit.Databases;

namespace Milter.Tests.Reporting;

/// <summary>One PostgreSQL server for a test class, started on first use (a class whose SQLite cases run alone never
/// starts it), stopped when the class is done. Each test takes a database of its own (<see cref="ReportStoreTarget"/>).</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private PostgresInstance? _instance;

    public async Task<PostgresInstance> GetAsync()
    {
        await _gate.WaitAsync();
        try
        {
            return _instance ??= await PostgresInstance.StartAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>IAsyncLifetime, not IAsyncDisposable: xunit 2 awaits only the former on a class fixture.</summary>
    public async Task DisposeAsync()
    {
        if (_instance is not null)
            await _instance.DisposeAsync();
        _gate.Dispose();
    }
}

/// <summary>
/// The report store a test runs against, SQLite or PostgreSQL (one test suite, two stores): its location for the
/// in-process classes, and the same for the executable (<see cref="Environment"/> and <see cref="CliArgs"/>).
/// </summary>
public sealed class ReportStoreTarget : IDisposable
{
    private readonly TempDir? _dir;

    private ReportStoreTarget(ReportStoreLocation location, TempDir? dir, PostgresInstance? postgres, string? connectionString)
    {
        Location = location;
        _dir = dir;
        Postgres = postgres;
        ConnectionString = connectionString;
    }

    public ReportStoreLocation Location { get; }
    public PostgresInstance? Postgres { get; }
    public string? ConnectionString { get; }
    public ReportStoreKind Kind => Location.Kind;

    /// <summary>The data directory (SQLite only).</summary>
    public string DataDirectory => _dir?.Sub("data") ?? throw new InvalidOperationException("not a SQLite store");

    public static async Task<ReportStoreTarget> CreateAsync(ReportStoreKind kind, PostgresFixture postgres)
    {
        if (kind == ReportStoreKind.Sqlite)
        {
            var dir = new TempDir("report-store");
            return new ReportStoreTarget(ReportStoreLocation.Sqlite(dir.Sub("data")), dir, null, null);
        }
        var instance = await postgres.GetAsync();
        var connectionString = await instance.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N"));
        return new ReportStoreTarget(ReportStoreLocation.PostgreSql(connectionString), null, instance, connectionString);
    }

    /// <summary>MILTER_ variables that point `milter run` or `milter report` at this store.</summary>
    public Dictionary<string, string> Environment => Kind == ReportStoreKind.Sqlite
        ? new() { ["MILTER_Reports__DataDirectory"] = DataDirectory }
        : new() { ["MILTER_Reports__Store"] = "postgresql", ["MILTER_Reports__ConnectionString"] = ConnectionString! };

    /// <summary>`milter report` options that name this store (none for PostgreSQL: it comes from the environment).</summary>
    public string[] CliArgs => Kind == ReportStoreKind.Sqlite ? ["--data-dir", DataDirectory] : [];

    /// <summary>Stores the evaluations through a <see cref="DmarcReportStore"/> and waits until they are written.</summary>
    public async Task StoreAsync(IEnumerable<DmarcEvaluationRecord> evaluations)
    {
        await using var store = new DmarcReportStore(Location, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            TimeProvider.System, new DmarcReportStoreOptions());
        foreach (var e in evaluations)
            Assert.True(store.TryEnqueue(e));
        await store.DisposeAsync();
        Assert.Equal(0, store.LostCount);
    }

    internal DmarcReportDatabase Open() => DmarcReportDatabase.Open(Location, create: true);

    public List<DmarcEvaluationRecord> ReadAll()
    {
        using var db = Open();
        return db.Query(DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue.AddDays(-1)).ToList();
    }

    /// <summary>Runs SQL on the store by the engine's own means (not Milter's code): psql or a SQLite connection.</summary>
    public async Task<string> SqlAsync(string sql)
    {
        if (Postgres is not null)
        {
            var database = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString).Database!;
            var result = await Postgres.PsqlAsync(database, sql);
            Assert.True(result.Succeeded, result.Describe());
            return result.StdOut.Trim();
        }
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DmarcReportStore.PathIn(DataDirectory)};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    public void Dispose() => _dir?.Dispose();
}
