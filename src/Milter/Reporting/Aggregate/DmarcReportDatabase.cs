using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// The SQLite file of DMARC evaluations: one table, versioned schema, WAL journal and a busy timeout, so a
/// `milter report` run (or a second daemon) can read and write the same file while the daemon writes
/// (SQLite's own file locking keeps it consistent). One instance is one connection; not thread-safe.
/// </summary>
internal sealed class DmarcReportDatabase : IDisposable
{
    public const int SchemaVersion = 1;
    public const string FileName = "dmarc-reports.sqlite";
    private const int BusyTimeoutMs = 10_000;

    private readonly SqliteConnection _connection;

    private DmarcReportDatabase(SqliteConnection connection) => _connection = connection;

    /// <summary>Opens (and with <paramref name="create"/>, creates) the database file and its schema. Throws
    /// <see cref="SqliteException"/> or <see cref="IOException"/> when it cannot.</summary>
    public static DmarcReportDatabase Open(string path, bool create)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = BusyTimeoutMs / 1000,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            Execute(connection, $"PRAGMA busy_timeout = {BusyTimeoutMs};");
            Execute(connection, "PRAGMA journal_mode = WAL;");
            Execute(connection, "PRAGMA synchronous = NORMAL;");
            var db = new DmarcReportDatabase(connection);
            db.EnsureSchema();
            return db;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public string JournalMode => (string)Scalar("PRAGMA journal_mode;")!;

    private void EnsureSchema()
    {
        using var tx = _connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: one creator at a time
        Execute(_connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);", tx);
        var found = Scalar("SELECT MAX(version) FROM schema_version;", tx);
        if (found is long version)
        {
            if (version > SchemaVersion)
                throw new InvalidDataException($"report store schema version {version} is newer than this milter's ({SchemaVersion})");
        }
        else
        {
            Execute(_connection, Schema, tx);
            Execute(_connection, $"INSERT INTO schema_version (version) VALUES ({SchemaVersion});", tx);
        }
        tx.Commit();
    }

    /// <summary>A column of the evaluations table: its name, its SQL type and the value a record stores in it.</summary>
    private sealed record Column(string Name, string SqlType, Func<DmarcEvaluationRecord, object?> Value);

    /// <summary>THE list of columns: the table, the insert and the select are made from it, and <see cref="Read"/> reads
    /// each column by its name. Adding a column is one entry here and one read in <see cref="Read"/> (and, for a file
    /// that exists, a schema version with its ALTER TABLE).</summary>
    private static readonly Column[] Columns =
    [
        new("time_ms", "INTEGER NOT NULL", r => r.Time.ToUnixTimeMilliseconds()),
        new("source_ip", "TEXT NOT NULL", r => r.SourceIp),
        new("header_from", "TEXT NOT NULL", r => r.HeaderFrom),
        new("envelope_from", "TEXT NOT NULL", r => r.EnvelopeFrom),
        new("envelope_to", "TEXT", r => r.EnvelopeTo),
        new("policy_domain", "TEXT NOT NULL", r => r.Policy.Domain),
        new("discovery_method", "TEXT NOT NULL", r => r.Policy.DiscoveryMethod),
        new("p", "TEXT NOT NULL", r => r.Policy.P),
        new("sp", "TEXT", r => r.Policy.Sp),
        new("np", "TEXT", r => r.Policy.Np),
        new("adkim", "TEXT NOT NULL", r => r.Policy.Adkim),
        new("aspf", "TEXT NOT NULL", r => r.Policy.Aspf),
        new("testing", "INTEGER NOT NULL", r => r.Policy.Testing ? 1 : 0),
        new("fo", "TEXT NOT NULL", r => r.Policy.Fo),
        new("pct", "INTEGER", r => r.Policy.Pct),
        new("rua", "TEXT NOT NULL", r => Json(r.Policy.Rua.ToList())),
        new("result", "TEXT NOT NULL", r => r.Result),
        new("disposition", "TEXT NOT NULL", r => r.Disposition),
        new("dkim_aligned", "INTEGER NOT NULL", r => r.DkimAligned ? 1 : 0),
        new("spf_aligned", "INTEGER NOT NULL", r => r.SpfAligned ? 1 : 0),
        new("reasons", "TEXT NOT NULL", r => Json(r.Reasons.ToList())),
        new("dkim", "TEXT NOT NULL", r => Json(r.Dkim.ToList())),
        new("spf_domain", "TEXT", r => r.Spf?.Domain),
        new("spf_scope", "TEXT", r => r.Spf?.Scope),
        new("spf_result", "TEXT", r => r.Spf?.Result),
        new("spf_human", "TEXT", r => r.Spf?.HumanResult),
    ];

    private static readonly string ColumnList = string.Join(", ", Columns.Select(c => c.Name));

    private static readonly string Schema = $"""
        CREATE TABLE IF NOT EXISTS evaluations (
            id INTEGER PRIMARY KEY,
            {string.Join(",\n    ", Columns.Select(c => $"{c.Name} {c.SqlType}"))}
        );
        CREATE INDEX IF NOT EXISTS evaluations_time ON evaluations (time_ms);
        CREATE INDEX IF NOT EXISTS evaluations_header_from ON evaluations (header_from);
        CREATE INDEX IF NOT EXISTS evaluations_policy_domain_time ON evaluations (policy_domain, time_ms);
        """;

    private static readonly string InsertSql =
        $"INSERT INTO evaluations ({ColumnList}) VALUES ({string.Join(", ", Columns.Select(c => "$" + c.Name))});";

    /// <summary>Inserts the records in one transaction.</summary>
    public void Insert(IReadOnlyList<DmarcEvaluationRecord> records)
    {
        using var tx = _connection.BeginTransaction(deferred: false);
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = InsertSql;
        var parameters = Columns.Select(c => command.Parameters.Add(new SqliteParameter("$" + c.Name, null))).ToArray();
        command.Prepare();
        foreach (var r in records)
        {
            for (int i = 0; i < Columns.Length; i++)
                parameters[i].Value = Columns[i].Value(r) ?? DBNull.Value;
            command.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>The evaluations with <paramref name="from"/> &lt;= time &lt; <paramref name="to"/>, oldest first.</summary>
    public IEnumerable<DmarcEvaluationRecord> Query(DateTimeOffset from, DateTimeOffset to)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = $"SELECT {ColumnList} FROM evaluations WHERE time_ms >= $from AND time_ms < $to ORDER BY time_ms, id;";
        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        var row = new Row(reader);
        while (reader.Read())
            yield return Read(row);
    }

    /// <summary>Number of stored evaluations.</summary>
    public long Count() => (long)Scalar("SELECT COUNT(*) FROM evaluations;")!;

    /// <summary>The current row's columns by name.</summary>
    private sealed class Row(SqliteDataReader reader)
    {
        private readonly Dictionary<string, int> _ordinals =
            Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => i, StringComparer.Ordinal);

        private int At(string column) => _ordinals[column];

        public string Text(string column) => reader.GetString(At(column));
        public string? TextOrNull(string column) => reader.IsDBNull(At(column)) ? null : reader.GetString(At(column));
        public long Integer(string column) => reader.GetInt64(At(column));
        public int? IntegerOrNull(string column) => reader.IsDBNull(At(column)) ? null : reader.GetInt32(At(column));
        public bool Flag(string column) => Integer(column) != 0;
    }

    private static DmarcEvaluationRecord Read(Row r)
    {
        var policy = new DmarcPublishedPolicy(r.Text("policy_domain"), r.Text("discovery_method"), r.Text("p"), r.TextOrNull("sp"),
            r.TextOrNull("np"), r.Text("adkim"), r.Text("aspf"), r.Flag("testing"), r.Text("fo"), r.IntegerOrNull("pct"),
            JsonSerializer.Deserialize(r.Text("rua"), DmarcReportJsonContext.Default.ListString) ?? []);
        return new DmarcEvaluationRecord
        {
            Time = DateTimeOffset.FromUnixTimeMilliseconds(r.Integer("time_ms")),
            SourceIp = r.Text("source_ip"),
            HeaderFrom = r.Text("header_from"),
            EnvelopeFrom = r.Text("envelope_from"),
            EnvelopeTo = r.TextOrNull("envelope_to"),
            Policy = policy,
            Result = r.Text("result"),
            Disposition = r.Text("disposition"),
            DkimAligned = r.Flag("dkim_aligned"),
            SpfAligned = r.Flag("spf_aligned"),
            Reasons = JsonSerializer.Deserialize(r.Text("reasons"), DmarcReportJsonContext.Default.ListDmarcPolicyReason) ?? [],
            Dkim = JsonSerializer.Deserialize(r.Text("dkim"), DmarcReportJsonContext.Default.ListDmarcDkimAuth) ?? [],
            Spf = r.TextOrNull("spf_domain") is { } domain
                ? new DmarcSpfAuth(domain, r.TextOrNull("spf_scope") ?? "mfrom", r.TextOrNull("spf_result") ?? "none", r.TextOrNull("spf_human"))
                : null,
        };
    }

    private static string Json(List<string> list) => JsonSerializer.Serialize(list, DmarcReportJsonContext.Default.ListString);
    private static string Json(List<DmarcPolicyReason> list) => JsonSerializer.Serialize(list, DmarcReportJsonContext.Default.ListDmarcPolicyReason);
    private static string Json(List<DmarcDkimAuth> list) => JsonSerializer.Serialize(list, DmarcReportJsonContext.Default.ListDmarcDkimAuth);

    private object? Scalar(string sql, SqliteTransaction? tx = null)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose() => _connection.Dispose();
}
