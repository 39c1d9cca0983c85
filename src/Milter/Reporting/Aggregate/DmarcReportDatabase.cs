using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// The DMARC evaluations of the report store, on either engine (<see cref="ReportStoreDialect"/>): the evaluations
/// table, the send ledger (<see cref="DmarcReportDatabase.TryClaim"/>), and a versioned schema that Milter creates and
/// migrates itself (<see cref="Migrations"/>); a schema newer than this binary's is refused
/// (<see cref="InvalidDataException"/>). One instance is one connection; not thread-safe.
/// </summary>
internal sealed partial class DmarcReportDatabase : IDisposable
{
    /// <summary>1: the evaluations table. 2: eval_key (an evaluation retried after an unclear commit is stored once) and
    /// the report_sends ledger.</summary>
    public const int SchemaVersion = 2;
    public const string FileName = "dmarc-reports.sqlite";

    private readonly DbConnection _connection;
    private readonly ReportStoreDialect _dialect;

    private DmarcReportDatabase(DbConnection connection, ReportStoreDialect dialect)
    {
        _connection = connection;
        _dialect = dialect;
    }

    /// <summary>The SQLite file at <paramref name="path"/> (with <paramref name="create"/>, created), its schema made current.</summary>
    public static DmarcReportDatabase Open(string path, bool create) =>
        Open(ReportStoreLocation.Sqlite(Path.GetDirectoryName(Path.GetFullPath(path))!), create);

    /// <summary>Opens the store and brings its schema to <see cref="SchemaVersion"/>. Throws a <see cref="DbException"/>,
    /// <see cref="IOException"/> or <see cref="InvalidDataException"/> (a newer schema) when it cannot.</summary>
    public static DmarcReportDatabase Open(ReportStoreLocation location, bool create = true)
    {
        var dialect = ReportStoreDialect.For(location);
        var connection = dialect.Open(create);
        try
        {
            var db = new DmarcReportDatabase(connection, dialect);
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
        // Up to date (every open but the first): no write lock needed, so opening never waits for the writers.
        if (StoredVersion() == SchemaVersion)
            return;
        using var tx = _dialect.BeginSchemaChange(_connection);
        Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);", tx);
        int version = Scalar("SELECT MAX(version) FROM schema_version;", tx) is { } found ? Convert.ToInt32(found, CultureInfo.InvariantCulture) : 0;
        if (version > SchemaVersion)
            throw new InvalidDataException($"report store schema version {version} is newer than this milter's ({SchemaVersion}): upgrade milter");
        for (int next = version + 1; next <= SchemaVersion; next++)
        {
            foreach (var statement in Migration(next))
                Execute(statement, tx);
        }
        if (version < SchemaVersion)
        {
            Execute("DELETE FROM schema_version;", tx);
            Execute($"INSERT INTO schema_version (version) VALUES ({SchemaVersion});", tx);
        }
        tx.Commit();
    }

    /// <summary>The schema version, or null when there is no schema (or it cannot be read without a lock).</summary>
    private int? StoredVersion()
    {
        try
        {
            return Scalar("SELECT MAX(version) FROM schema_version;") is { } found ? Convert.ToInt32(found, CultureInfo.InvariantCulture) : null;
        }
        catch (DbException)
        {
            return null; // no such table yet: the locked path below creates it
        }
    }

    /// <summary>The statements that take the schema from version - 1 to <paramref name="version"/>: the columns that
    /// came with it (<see cref="Column.Since"/>) and the version's own statements.</summary>
    private IEnumerable<string> Migration(int version)
    {
        if (version == 1)
        {
            yield return $"""
                CREATE TABLE evaluations (
                    id {_dialect.IdColumn},
                    {string.Join(",\n    ", Columns.Where(c => c.Since == 1).Select(c => $"{c.Name} {c.SqlType}"))}
                );
                """;
            yield return "CREATE INDEX evaluations_time ON evaluations (time_ms);";
            yield return "CREATE INDEX evaluations_header_from ON evaluations (header_from);";
            yield return "CREATE INDEX evaluations_policy_domain_time ON evaluations (policy_domain, time_ms);";
        }
        else
        {
            // A column added later must be NULL-able or have a DEFAULT: the rows already stored get it.
            foreach (var c in Columns.Where(c => c.Since == version))
                yield return $"ALTER TABLE evaluations ADD COLUMN {c.Name} {c.SqlType};";
        }
        if (version == 2)
        {
            yield return $"ALTER TABLE evaluations ADD COLUMN {KeyColumn} TEXT;";
            yield return $"CREATE UNIQUE INDEX evaluations_key ON evaluations ({KeyColumn});";
            yield return """
                CREATE TABLE report_sends (
                    send_key TEXT PRIMARY KEY,
                    report_id TEXT NOT NULL,
                    policy_domain TEXT NOT NULL,
                    address TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    lease_until_ms BIGINT NOT NULL,
                    attempts INTEGER NOT NULL,
                    sent_ms BIGINT
                );
                """;
        }
    }

    /// <summary>A column of the evaluations table: its name, its SQL type (read alike by both engines), the value a record
    /// stores in it and the schema version that added it.</summary>
    private sealed record Column(string Name, string SqlType, Func<DmarcEvaluationRecord, object?> Value, int Since = 1);

    /// <summary>The evaluation's own key (unique): a batch written again after a commit whose outcome was not known is
    /// not stored twice.</summary>
    private const string KeyColumn = "eval_key";

    /// <summary>THE list of columns: the table, its migrations, the insert and the select are made from it, and
    /// <see cref="Read"/> reads each column by its name. Adding a column is one entry here (with <see cref="Column.Since"/>
    /// the new <see cref="SchemaVersion"/>, NULL-able or with a DEFAULT) and one read in <see cref="Read"/>.</summary>
    private static readonly Column[] Columns =
    [
        new("time_ms", "BIGINT NOT NULL", r => r.Time.ToUnixTimeMilliseconds()),
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

    private static string InsertSql(int rows)
    {
        var sql = new StringBuilder($"INSERT INTO evaluations ({KeyColumn}, {ColumnList}) VALUES ");
        for (int row = 0; row < rows; row++)
        {
            sql.Append(row == 0 ? "(" : ", (").Append(CultureInfo.InvariantCulture, $"@k{row}");
            for (int i = 0; i < Columns.Length; i++)
                sql.Append(CultureInfo.InvariantCulture, $", @v{row}_{i}");
            sql.Append(')');
        }
        return sql.Append($" ON CONFLICT ({KeyColumn}) DO NOTHING;").ToString();
    }

    /// <summary>Inserts records without keys of their own (each gets a new one), in one transaction.</summary>
    public void Insert(IReadOnlyList<DmarcEvaluationRecord> records) =>
        Insert(records.Select(r => new PendingEvaluation(PendingEvaluation.NewKey(), r)).ToList());

    /// <summary>Inserts the evaluations in one transaction; one whose key is already stored is skipped. Statements of
    /// <see cref="ReportStoreDialect.RowsPerInsert"/> rows, each command made once and reused with new values.</summary>
    public void Insert(IReadOnlyList<PendingEvaluation> evaluations)
    {
        using var tx = _dialect.BeginWrite(_connection);
        DbCommand? full = null;
        try
        {
            int per = _dialect.RowsPerInsert;
            for (int start = 0; start < evaluations.Count; start += per)
            {
                int rows = Math.Min(per, evaluations.Count - start);
                if (rows == per)
                {
                    if (full is null)
                    {
                        full = InsertCommand(rows, tx);
                        _dialect.Prepare(full);
                    }
                    Bind(full, evaluations, start, rows);
                    full.ExecuteNonQuery();
                }
                else
                {
                    using var tail = InsertCommand(rows, tx);
                    Bind(tail, evaluations, start, rows);
                    tail.ExecuteNonQuery();
                }
            }
        }
        finally
        {
            full?.Dispose();
        }
        tx.Commit();
    }

    private DbCommand InsertCommand(int rows, DbTransaction tx)
    {
        var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = InsertSql(rows);
        for (int row = 0; row < rows; row++)
        {
            Add(command, $"k{row}", null);
            for (int i = 0; i < Columns.Length; i++)
                Add(command, $"v{row}_{i}", null);
        }
        return command;
    }

    private static void Bind(DbCommand command, IReadOnlyList<PendingEvaluation> evaluations, int start, int rows)
    {
        int p = 0;
        for (int row = 0; row < rows; row++)
        {
            var e = evaluations[start + row];
            command.Parameters[p++].Value = e.Key;
            for (int i = 0; i < Columns.Length; i++)
                command.Parameters[p++].Value = Columns[i].Value(e.Record) ?? DBNull.Value;
        }
    }

    /// <summary>The evaluations with <paramref name="from"/> &lt;= time &lt; <paramref name="to"/>, oldest first.</summary>
    public IEnumerable<DmarcEvaluationRecord> Query(DateTimeOffset from, DateTimeOffset to)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = $"SELECT {ColumnList} FROM evaluations WHERE time_ms >= @from AND time_ms < @to ORDER BY time_ms, id;";
        Add(command, "from", from.ToUnixTimeMilliseconds());
        Add(command, "to", to.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        var row = new Row(reader);
        while (reader.Read())
            yield return Read(row);
    }

    /// <summary>Number of stored evaluations.</summary>
    public long Count() => Convert.ToInt64(Scalar("SELECT COUNT(*) FROM evaluations;"), CultureInfo.InvariantCulture);

    /// <summary>The current row's columns by name.</summary>
    private sealed class Row(DbDataReader reader)
    {
        private readonly Dictionary<string, int> _ordinals =
            Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => i, StringComparer.Ordinal);

        private int At(string column) => _ordinals[column];

        public string Text(string column) => reader.GetString(At(column));
        public string? TextOrNull(string column) => reader.IsDBNull(At(column)) ? null : reader.GetString(At(column));
        public long Integer(string column) => Convert.ToInt64(reader.GetValue(At(column)), CultureInfo.InvariantCulture);
        public int? IntegerOrNull(string column) =>
            reader.IsDBNull(At(column)) ? null : Convert.ToInt32(reader.GetValue(At(column)), CultureInfo.InvariantCulture);
        public bool Flag(string column) => Integer(column) != 0;
    }

    private static DmarcPublishedPolicy ReadPolicy(Row r) =>
        new(r.Text("policy_domain"), r.Text("discovery_method"), r.Text("p"), r.TextOrNull("sp"),
            r.TextOrNull("np"), r.Text("adkim"), r.Text("aspf"), r.Flag("testing"), r.Text("fo"), r.IntegerOrNull("pct"),
            JsonSerializer.Deserialize(r.Text("rua"), DmarcReportJsonContext.Default.ListString) ?? []);

    private static DmarcEvaluationRecord Read(Row r) => ReadRowFields(r, ReadPolicy(r)) with
    {
        Time = DateTimeOffset.FromUnixTimeMilliseconds(r.Integer("time_ms")),
        Result = r.Text("result"),
    };

    /// <summary>The fields a report row is made of (<see cref="ReportRowColumns"/>), with <paramref name="policy"/>.</summary>
    private static DmarcEvaluationRecord ReadRowFields(Row r, DmarcPublishedPolicy policy) =>
        new()
        {
            SourceIp = r.Text("source_ip"),
            HeaderFrom = r.Text("header_from"),
            EnvelopeFrom = r.Text("envelope_from"),
            EnvelopeTo = r.TextOrNull("envelope_to"),
            Policy = policy,
            Disposition = r.Text("disposition"),
            DkimAligned = r.Flag("dkim_aligned"),
            SpfAligned = r.Flag("spf_aligned"),
            Reasons = JsonSerializer.Deserialize(r.Text("reasons"), DmarcReportJsonContext.Default.ListDmarcPolicyReason) ?? [],
            Dkim = JsonSerializer.Deserialize(r.Text("dkim"), DmarcReportJsonContext.Default.ListDmarcDkimAuth) ?? [],
            Spf = r.TextOrNull("spf_domain") is { } domain
                ? new DmarcSpfAuth(domain, r.TextOrNull("spf_scope") ?? "mfrom", r.TextOrNull("spf_result") ?? "none", r.TextOrNull("spf_human"))
                : null,
        };

    private static string Json(List<string> list) => JsonSerializer.Serialize(list, DmarcReportJsonContext.Default.ListString);
    private static string Json(List<DmarcPolicyReason> list) => JsonSerializer.Serialize(list, DmarcReportJsonContext.Default.ListDmarcPolicyReason);
    private static string Json(List<DmarcDkimAuth> list) => JsonSerializer.Serialize(list, DmarcReportJsonContext.Default.ListDmarcDkimAuth);

    private static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private object? Scalar(string sql, DbTransaction? tx = null, params (string Name, object? Value)[] parameters)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            Add(command, name, value);
        var value2 = command.ExecuteScalar();
        return value2 is DBNull ? null : value2;
    }

    private int Execute(string sql, DbTransaction? tx = null, params (string Name, object? Value)[] parameters)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            Add(command, name, value);
        return command.ExecuteNonQuery();
    }

    public void Dispose() => _connection.Dispose();
}

/// <summary>An evaluation waiting to be stored, with its key (<c>eval_key</c>): written twice, it is stored once.</summary>
internal sealed record PendingEvaluation(string Key, DmarcEvaluationRecord Record)
{
    public static string NewKey() => Guid.NewGuid().ToString("N");
}
