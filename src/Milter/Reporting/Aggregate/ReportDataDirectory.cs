using Milter.Configuration;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// Where the DMARC report store lives (<c>Reports:DataDirectory</c>) and whether it can be written. Unset, it is
/// <see cref="SystemDefault"/> where that can be written (root, the package's or the container's user), and otherwise the
/// user's state directory (<c>$XDG_STATE_HOME/milter</c>, else <c>~/.local/state/milter</c>), so `milter run` from a
/// checkout works for a normal user. Checked once at start-up: a directory that cannot be written is one line and exit 2,
/// unless <c>Reports:Optional</c> is true (then the daemon runs without the store, with one warning line).
/// </summary>
public static class ReportDataDirectory
{
    public const string SystemDefault = "/var/lib/milter";

    /// <summary>The directory for <paramref name="reports"/>: the configured one, or the default; "" when the store is off.</summary>
    public static string Resolve(ReportsSection reports, Func<string, string?>? environment = null, string systemDefault = SystemDefault)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (reports.DataDirectory is { } configured) return configured.Trim();
        if (Unwritable(systemDefault) is null) return systemDefault;
        return UserStateDirectory(environment ?? Environment.GetEnvironmentVariable) ?? systemDefault;
    }

    /// <summary>
    /// Where a reader (`milter report`) finds the store, creating nothing: the configured directory; unset, the first of
    /// <see cref="SystemDefault"/> and the user's state directory that holds a store (the daemon puts it in one of them,
    /// see <see cref="Resolve"/>). Returns the directories looked in when neither holds one.
    /// </summary>
    public static (string? Directory, IReadOnlyList<string> LookedIn) Locate(ReportsSection reports,
        Func<string, string?>? environment = null, string systemDefault = SystemDefault)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (reports.DataDirectory is { } configured) return (configured.Trim(), [configured.Trim()]);
        var candidates = new List<string> { systemDefault };
        if (UserStateDirectory(environment ?? Environment.GetEnvironmentVariable) is { } user) candidates.Add(user);
        var found = candidates.FirstOrDefault(c => File.Exists(DmarcReportStore.PathIn(c)));
        return (found, candidates);
    }

    /// <summary><c>$XDG_STATE_HOME/milter</c> (when absolute, as the XDG Base Directory spec wants), else
    /// <c>$HOME/.local/state/milter</c>; null without either.</summary>
    public static string? UserStateDirectory(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var state = environment("XDG_STATE_HOME");
        if (!string.IsNullOrEmpty(state) && Path.IsPathRooted(state)) return Path.Combine(state, "milter");
        var home = environment("HOME");
        return string.IsNullOrEmpty(home) || !Path.IsPathRooted(home) ? null : Path.Combine(home, ".local", "state", "milter");
    }

    /// <summary>
    /// Start-up: sets <see cref="ReportsSection.DataDirectory"/> to the directory the store will use (created, and its
    /// database opened once) or to "" when it cannot be written and <see cref="ReportsSection.Optional"/> is true; returns
    /// the warning to log then. Throws <see cref="ConfigException"/> when it cannot be written and the store is required.
    /// </summary>
    /// <param name="source">Where a configured directory came from (file, MILTER_ variable), for the error line.</param>
    public static string? Prepare(ReportsSection reports, Func<string, string?>? environment = null, string systemDefault = SystemDefault,
        string? source = null)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var configured = reports.DataDirectory is not null;
        var directory = Resolve(reports, environment, systemDefault);
        reports.DataDirectory = directory;
        if (directory.Length == 0) return null;
        if (Unwritable(directory) is not { } why) return null;
        var problem = configured
            ? ConfigException.Format("Reports:DataDirectory", directory, $"cannot be written ({why})", source)
            : directory == systemDefault
                ? $"config: Reports:DataDirectory is not set and {directory} cannot be written ({why})"
                : $"config: Reports:DataDirectory is not set and neither {systemDefault} nor {directory} can be written ({why})";
        if (!reports.Optional)
            throw new ConfigException($"{problem}; set Reports:DataDirectory to a directory this user can write, or Reports:Optional to true to run without DMARC reports");
        reports.DataDirectory = "";
        return $"{problem}; running without DMARC reports (Reports:Optional is true)";
    }

    /// <summary>Why <paramref name="directory"/> cannot hold the store (it is created when missing and the database file
    /// opened for writing, which also checks its schema), or null when it can.</summary>
    public static string? Unwritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            // A file of our own first: SQLite opens a file it cannot write read-only and fails only at the first insert.
            var probe = Path.Combine(directory, $".milter-probe-{Environment.ProcessId}");
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            var database = DmarcReportStore.PathIn(directory);
            if (File.Exists(database))
            {
                using (new FileStream(database, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, 1))
                {
                }
            }
            DmarcReportDatabase.Open(database, create: true).Dispose();
            return null;
        }
        catch (Exception e) when (DmarcReportStore.IsStorageError(e))
        {
            return e.Message;
        }
    }
}
