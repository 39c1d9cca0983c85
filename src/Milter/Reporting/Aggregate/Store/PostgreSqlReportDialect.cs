using System.Data.Common;
using Npgsql;

namespace Milter.Reporting.Aggregate;

/// <summary>A PostgreSQL database shared by several hosts. Schema changes run under a transaction-scoped advisory lock,
/// so two daemons starting at once do not both create or migrate it.</summary>
internal sealed class PostgreSqlReportDialect(string connectionString) : ReportStoreDialect
{
    /// <summary>The advisory lock key of schema changes ("milter" in ASCII, as a bigint).</summary>
    private const long SchemaLockKey = 0x6D696C746572;

    public override string IdColumn => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";

    public override int RowsPerInsert => 100;

    public override int RetentionBatch => 2_000;

    public override DbConnection Open(bool create)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            ApplicationName = "milter",
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>REPEATABLE READ: every statement of the transaction sees the snapshot of its first.</summary>
    public override DbTransaction BeginRead(DbConnection connection) => connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);

    public override DbTransaction BeginSchemaChange(DbConnection connection)
    {
        var tx = connection.BeginTransaction();
        Execute(connection, $"SELECT pg_advisory_xact_lock({SchemaLockKey});", tx);
        return tx;
    }
}
