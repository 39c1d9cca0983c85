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

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS evaluations (
            id INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            source_ip TEXT NOT NULL,
            header_from TEXT NOT NULL,
            envelope_from TEXT NOT NULL,
            envelope_to TEXT,
            policy_domain TEXT NOT NULL,
            discovery_method TEXT NOT NULL,
            p TEXT NOT NULL,
            sp TEXT,
            np TEXT,
            adkim TEXT NOT NULL,
            aspf TEXT NOT NULL,
            testing INTEGER NOT NULL,
            fo TEXT NOT NULL,
            pct INTEGER,
            rua TEXT NOT NULL,
            result TEXT NOT NULL,
            disposition TEXT NOT NULL,
            dkim_aligned INTEGER NOT NULL,
            spf_aligned INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            dkim TEXT NOT NULL,
            spf_domain TEXT,
            spf_scope TEXT,
            spf_result TEXT,
            spf_human TEXT
        );
        CREATE INDEX IF NOT EXISTS evaluations_time ON evaluations (time_ms);
        CREATE INDEX IF NOT EXISTS evaluations_header_from ON evaluations (header_from);
        CREATE INDEX IF NOT EXISTS evaluations_policy_domain_time ON evaluations (policy_domain, time_ms);
        """;

    private static readonly string[] Columns =
    [
        "time_ms", "source_ip", "header_from", "envelope_from", "envelope_to", "policy_domain", "discovery_method", "p", "sp",
        "np", "adkim", "aspf", "testing", "fo", "pct", "rua", "result", "disposition", "dkim_aligned", "spf_aligned", "reasons",
        "dkim", "spf_domain", "spf_scope", "spf_result", "spf_human",
    ];

    private static readonly string InsertSql =
        $"INSERT INTO evaluations ({string.Join(", ", Columns)}) VALUES ({string.Join(", ", Columns.Select(c => "$" + c))});";

    /// <summary>Inserts the records in one transaction.</summary>
    public void Insert(IReadOnlyList<DmarcEvaluationRecord> records)
    {
        using var tx = _connection.BeginTransaction(deferred: false);
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = InsertSql;
        var parameters = Columns.Select(c => command.Parameters.Add(new SqliteParameter("$" + c, null))).ToArray();
        command.Prepare();
        foreach (var r in records)
        {
            var p = r.Policy;
            object?[] values =
            [
                r.Time.ToUnixTimeMilliseconds(), r.SourceIp, r.HeaderFrom, r.EnvelopeFrom, r.EnvelopeTo, p.Domain, p.DiscoveryMethod, p.P,
                p.Sp, p.Np, p.Adkim, p.Aspf, p.Testing ? 1 : 0, p.Fo, p.Pct, Json(p.Rua.ToList()), r.Result, r.Disposition,
                r.DkimAligned ? 1 : 0, r.SpfAligned ? 1 : 0, Json(r.Reasons.ToList()), Json(r.Dkim.ToList()), r.Spf?.Domain, r.Spf?.Scope,
                r.Spf?.Result, r.Spf?.HumanResult,
            ];
            for (int i = 0; i < Columns.Length; i++)
                parameters[i].Value = values[i] ?? DBNull.Value;
            command.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>The evaluations with <paramref name="from"/> &lt;= time &lt; <paramref name="to"/>, oldest first.</summary>
    public IEnumerable<DmarcEvaluationRecord> Query(DateTimeOffset from, DateTimeOffset to)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = $"SELECT {string.Join(", ", Columns)} FROM evaluations WHERE time_ms >= $from AND time_ms < $to ORDER BY time_ms, id;";
        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        while (reader.Read())
            yield return Read(reader);
    }

    /// <summary>Number of stored evaluations.</summary>
    public long Count() => (long)Scalar("SELECT COUNT(*) FROM evaluations;")!;

    private static DmarcEvaluationRecord Read(SqliteDataReader r)
    {
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        var policy = new DmarcPublishedPolicy(r.GetString(5), r.GetString(6), r.GetString(7), S(8), S(9), r.GetString(10), r.GetString(11),
            r.GetInt64(12) != 0, r.GetString(13), r.IsDBNull(14) ? null : r.GetInt32(14),
            JsonSerializer.Deserialize(r.GetString(15), DmarcReportJsonContext.Default.ListString) ?? []);
        return new DmarcEvaluationRecord
        {
            Time = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)),
            SourceIp = r.GetString(1),
            HeaderFrom = r.GetString(2),
            EnvelopeFrom = r.GetString(3),
            EnvelopeTo = S(4),
            Policy = policy,
            Result = r.GetString(16),
            Disposition = r.GetString(17),
            DkimAligned = r.GetInt64(18) != 0,
            SpfAligned = r.GetInt64(19) != 0,
            Reasons = JsonSerializer.Deserialize(r.GetString(20), DmarcReportJsonContext.Default.ListDmarcPolicyReason) ?? [],
            Dkim = JsonSerializer.Deserialize(r.GetString(21), DmarcReportJsonContext.Default.ListDmarcDkimAuth) ?? [],
            Spf = S(22) is { } domain ? new DmarcSpfAuth(domain, S(23) ?? "mfrom", S(24) ?? "none", S(25)) : null,
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
