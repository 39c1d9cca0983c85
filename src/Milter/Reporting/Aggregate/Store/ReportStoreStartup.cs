using System.Globalization;
using Milter.Configuration;
using Npgsql;

namespace Milter.Reporting.Aggregate;

/// <summary>The report store's configuration checks (<c>Reports:Store</c>, <c>Reports:ConnectionString</c>,
/// <c>Reports:RetentionDays</c>) and its start-up check.</summary>
public static class ReportStoreStartup
{
    /// <summary>What a connection string is shown as in a config error: never its text (it may hold a password).</summary>
    public const string HiddenValue = "(hidden)";

    public static IEnumerable<(string Key, string? Value, string Text)> Problems(ReportsSection reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var store = reports.Store?.Trim();
        if (!string.Equals(store, ReportStoreLocation.SqliteName, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(store, ReportStoreLocation.PostgreSqlName, StringComparison.OrdinalIgnoreCase))
            yield return ("Reports:Store", reports.Store, "use sqlite (a file in Reports:DataDirectory) or postgresql (Reports:ConnectionString)");
        else if (ReportStoreLocation.IsPostgreSql(reports))
        {
            if (string.IsNullOrWhiteSpace(reports.ConnectionString))
                yield return ("Reports:ConnectionString", "", "the postgresql store needs a connection string, e.g. Host=db.example.net;Database=milter;Username=milter;Password=...");
            else if (ConnectionStringProblem(reports.ConnectionString) is { } problem)
                yield return ("Reports:ConnectionString", HiddenValue, problem);
        }
        if (reports.QueueCapacity is < 100 or > 1_000_000)
            yield return ("Reports:QueueCapacity", reports.QueueCapacity.ToString(CultureInfo.InvariantCulture), "must be between 100 and 1000000");
        if (reports.RetentionDays is < 0 or > 3650)
            yield return ("Reports:RetentionDays", reports.RetentionDays.ToString(CultureInfo.InvariantCulture), "must be between 0 (keep all) and 3650");
    }

    private static string? ConnectionStringProblem(string connectionString)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            // Npgsql's message is not shown: it quotes the keyword it did not know, and with an unquoted ';' in a
            // password ("Password=ab;cd=ef") that keyword is a piece of the password.
            return "not a valid Npgsql connection string (an unknown keyword or a malformed value; a value holding ';' or '=' must be in double quotes)";
        }
    }

    /// <summary>
    /// Start-up. SQLite: <see cref="ReportDataDirectory.Prepare"/>. PostgreSQL: connects once and creates or migrates the
    /// schema; a schema newer than this binary's is a <see cref="ConfigException"/> (one line, exit 2); a database that
    /// cannot be reached is only a warning (returned): the daemon answers mail and the store queues, then drops,
    /// evaluations until it can write.
    /// </summary>
    public static string? Prepare(ReportsSection reports, string? dataDirectorySource = null)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (!ReportStoreLocation.IsPostgreSql(reports))
            return ReportDataDirectory.Prepare(reports, source: dataDirectorySource);
        var location = ReportStoreLocation.PostgreSql(reports.ConnectionString ?? "");
        try
        {
            DmarcReportDatabase.Open(location).Dispose();
            return null;
        }
        catch (InvalidDataException e)
        {
            throw new ConfigException($"config: Reports:Store postgresql at {location}: {e.Message}");
        }
        catch (Exception e) when (DmarcReportStore.IsStorageError(e))
        {
            return $"DMARC report store {location} cannot be reached ({e.Message}); evaluations queue until it can, then are dropped (mail is answered as usual)";
        }
    }
}
