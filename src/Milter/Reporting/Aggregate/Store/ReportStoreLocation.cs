using Milter.Configuration;
using Npgsql;

namespace Milter.Reporting.Aggregate;

/// <summary>Which engine holds the DMARC report store (<c>Reports:Store</c>).</summary>
public enum ReportStoreKind
{
    /// <summary>The embedded SQLite file <c>DATA_DIR/dmarc-reports.sqlite</c> (one host; the default).</summary>
    Sqlite,
    /// <summary>A PostgreSQL database (<c>Reports:ConnectionString</c>) shared by a fleet of relays.</summary>
    PostgreSql,
}

/// <summary>Where the report store is: a SQLite data directory or a PostgreSQL connection string. <see cref="ToString"/>
/// (used in every log line) never shows a password.</summary>
public sealed class ReportStoreLocation
{
    public const string SqliteName = "sqlite";
    public const string PostgreSqlName = "postgresql";

    private ReportStoreLocation(ReportStoreKind kind, string target, string description)
    {
        Kind = kind;
        Target = target;
        Description = description;
    }

    public ReportStoreKind Kind { get; }

    /// <summary>The data directory (SQLite) or the connection string (PostgreSQL; secret, never log it).</summary>
    internal string Target { get; }

    /// <summary>The database file, or host:port/database as user: for log lines.</summary>
    public string Description { get; }

    public static ReportStoreLocation Sqlite(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        return new(ReportStoreKind.Sqlite, dataDirectory, DmarcReportStore.PathIn(dataDirectory));
    }

    /// <summary>Throws <see cref="ArgumentException"/> when the connection string cannot be parsed (its message names
    /// the bad keyword, not the value).</summary>
    public static ReportStoreLocation PostgreSql(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        return new(ReportStoreKind.PostgreSql, connectionString, Describe(connectionString));
    }

    /// <summary>The location the configuration names (after <see cref="ReportDataDirectory.Prepare"/> for SQLite), or
    /// null when the store is off (SQLite with an empty data directory).</summary>
    public static ReportStoreLocation? From(ReportsSection reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (IsPostgreSql(reports))
            return PostgreSql(reports.ConnectionString ?? "");
        return string.IsNullOrWhiteSpace(reports.DataDirectory) ? null : Sqlite(reports.DataDirectory);
    }

    public static bool IsPostgreSql(ReportsSection reports) =>
        string.Equals(reports.Store?.Trim(), PostgreSqlName, StringComparison.OrdinalIgnoreCase);

    /// <summary>host:port/database (user), from a connection string: never the password.</summary>
    internal static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{b.Host ?? "localhost"}:{b.Port}/{b.Database ?? b.Username ?? "?"}" + (b.Username is { } user ? $" as {user}" : "");
    }

    public override string ToString() => Description;
}
