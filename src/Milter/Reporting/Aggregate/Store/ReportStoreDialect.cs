using System.Data.Common;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// What differs between the two engines of the report store; everything else (<see cref="DmarcReportDatabase"/>: the
/// schema, its migrations, inserts, queries, retention and the send ledger) is one SQL text for both, with @name
/// parameters, ON CONFLICT and RETURNING, which SQLite (3.35+) and PostgreSQL read alike.
/// </summary>
internal abstract class ReportStoreDialect
{
    /// <summary>An open connection, set up for the store. Throws a <see cref="DbException"/> (or I/O error) when it cannot.</summary>
    public abstract DbConnection Open(bool create);

    /// <summary>The evaluations table's key column type.</summary>
    public abstract string IdColumn { get; }

    /// <summary>A write transaction; on return this connection alone may change the schema until it ends.</summary>
    public abstract DbTransaction BeginSchemaChange(DbConnection connection);

    /// <summary>Rows per INSERT statement: one for SQLite (a local call; Microsoft.Data.Sqlite binds parameters by name,
    /// slow for many), 100 for PostgreSQL (one round trip per statement; 2,700 parameters, well under its limit).</summary>
    public abstract int RowsPerInsert { get; }

    /// <summary>Prepares a command that runs many times in one transaction (SQLite: compiled once).</summary>
    public virtual void Prepare(DbCommand command)
    {
    }

    /// <summary>Rows one retention statement deletes: what the engine deletes in well under 100 ms on a loaded machine
    /// (SQLite locks the whole file for the statement; PostgreSQL only the rows).</summary>
    public abstract int RetentionBatch { get; }

    /// <summary>Longest one retention statement should take, when it holds up writers (SQLite: the whole file is locked);
    /// null when it does not (PostgreSQL locks only the rows it deletes).</summary>
    public virtual TimeSpan? RetentionStatementBudget => null;

    /// <summary>Sets up the connection of a retention pass (<see cref="ReportRetention"/>).</summary>
    public virtual void PrepareRetention(DbConnection connection)
    {
    }

    /// <summary>A transaction for a batch of inserts.</summary>
    public virtual DbTransaction BeginWrite(DbConnection connection) => connection.BeginTransaction();

    /// <summary>A read-only transaction: one snapshot for several queries, taking no write lock.</summary>
    public abstract DbTransaction BeginRead(DbConnection connection);

    public static ReportStoreDialect For(ReportStoreLocation location) => location.Kind switch
    {
        ReportStoreKind.Sqlite => new SqliteReportDialect(location.Target),
        ReportStoreKind.PostgreSql => new PostgreSqlReportDialect(location.Target),
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };

    protected static void Execute(DbConnection connection, string sql, DbTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
