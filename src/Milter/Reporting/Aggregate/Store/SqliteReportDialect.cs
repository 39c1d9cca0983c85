using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Milter.Reporting.Aggregate;

/// <summary>The SQLite file: WAL journal and a busy timeout, so `milter report` (or a second daemon) reads and writes the
/// same file while the daemon writes (SQLite's own file locking keeps it consistent). A connection waiting for the write
/// lock polls for it every millisecond (<see cref="SqliteBusyWait"/>), not on SQLite's own back-off.</summary>
internal sealed class SqliteReportDialect(string dataDirectory) : ReportStoreDialect
{
    public string Path { get; } = DmarcReportStore.PathIn(dataDirectory);

    public override string IdColumn => "INTEGER PRIMARY KEY";

    public override int RowsPerInsert => 1;

    public override void Prepare(DbCommand command) => command.Prepare();

    public override int RetentionBatch => 200;

    public override TimeSpan? RetentionStatementBudget => TimeSpan.FromMilliseconds(20);

    /// <summary>The retention's connection checkpoints the WAL at a quarter of the default 1,000 pages: a delete writes many
    /// pages, and the connection whose commit crosses the threshold copies the WAL into the file (with an fsync) before
    /// its commit returns. So the retention pays for the WAL it writes, not a writer's insert that happens to come next.</summary>
    public override void PrepareRetention(DbConnection connection) => Execute(connection, "PRAGMA wal_autocheckpoint = 250;");

    public override DbConnection Open(bool create)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = (int)SqliteBusyWait.Timeout.TotalSeconds,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            SqliteBusyWait.Install(connection);
            Execute(connection, "PRAGMA journal_mode = WAL;");
            Execute(connection, "PRAGMA synchronous = NORMAL;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    // BEGIN IMMEDIATE: the write lock at once, so one creator at a time.
    public override DbTransaction BeginSchemaChange(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);

    // Deferred: a read takes no lock until its first statement, and then only a WAL read snapshot (writers go on).
    public override DbTransaction BeginRead(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: true);

    public override DbTransaction BeginWrite(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);
}
