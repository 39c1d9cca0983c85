using Milter.Configuration;
using Milter.Reporting.Aggregate;

namespace Milter.Tests.Reporting;

/// <summary>Issue 20 item 3: the data directory's default and its start-up check. Root ignores permission bits, so
/// "cannot be written" is a path under a regular file (ENOTDIR), which fails for every user.</summary>
public sealed class ReportDataDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-datadir-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Unwritable()
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "");
        return Path.Combine(file, "milter");
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
        => name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Unset_SystemDefaultWritable_IsTheSystemDefault()
    {
        var system = Path.Combine(_dir, "var-lib-milter");
        Assert.Equal(system, ReportDataDirectory.Resolve(new ReportsSection(), Env(("HOME", "/home/u")), system));
    }

    [Fact]
    public void Unset_SystemDefaultNotWritable_IsTheUserStateDirectory()
    {
        var reports = new ReportsSection();
        var state = Path.Combine(_dir, "state");
        Assert.Null(ReportDataDirectory.Prepare(reports, Env(("XDG_STATE_HOME", state), ("HOME", "/home/u")), Unwritable()));
        Assert.Equal(Path.Combine(state, "milter"), reports.DataDirectory);
        Assert.True(File.Exists(Path.Combine(state, "milter", "dmarc-reports.sqlite")));
    }

    [Fact]
    public void Locate_FindsTheStoreWhereverTheDaemonsDefaultPutIt_CreatingNothing()
    {
        var system = Path.Combine(_dir, "system");
        var env = Env(("XDG_STATE_HOME", Path.Combine(_dir, "state")));
        var user = Path.Combine(_dir, "state", "milter");

        var (none, lookedIn) = ReportDataDirectory.Locate(new ReportsSection(), env, system);
        Assert.Null(none);
        Assert.Equal([system, user], lookedIn);
        Assert.False(Directory.Exists(system));
        Assert.False(Directory.Exists(user));

        Assert.Null(ReportDataDirectory.Prepare(new ReportsSection(), env, Unwritable()));
        Assert.Equal(user, ReportDataDirectory.Locate(new ReportsSection(), env, system).Directory);

        Assert.Null(ReportDataDirectory.Prepare(new ReportsSection(), env, system));
        Assert.Equal(system, ReportDataDirectory.Locate(new ReportsSection(), env, system).Directory);

        var mine = Path.Combine(_dir, "mine");
        var configured = ReportDataDirectory.Locate(new ReportsSection { DataDirectory = mine }, env, system);
        Assert.Equal(mine, configured.Directory);
        Assert.Equal([mine], configured.LookedIn);
    }

    [Fact]
    public void UserStateDirectory_FollowsXdg_ThenHome()
    {
        Assert.Equal("/s/milter", ReportDataDirectory.UserStateDirectory(Env(("XDG_STATE_HOME", "/s"), ("HOME", "/home/u"))));
        // The XDG spec: a relative path in the variable is invalid and ignored.
        Assert.Equal("/home/u/.local/state/milter", ReportDataDirectory.UserStateDirectory(Env(("XDG_STATE_HOME", "rel"), ("HOME", "/home/u"))));
        Assert.Null(ReportDataDirectory.UserStateDirectory(Env()));
    }

    [Fact]
    public void Configured_IsKept_EvenWhenTheSystemDefaultWorks()
    {
        var mine = Path.Combine(_dir, "mine");
        var reports = new ReportsSection { DataDirectory = mine };
        Assert.Null(ReportDataDirectory.Prepare(reports, Env(), Path.Combine(_dir, "system")));
        Assert.Equal(mine, reports.DataDirectory);
        Assert.False(Directory.Exists(Path.Combine(_dir, "system")));
    }

    [Fact]
    public void Empty_TurnsTheStoreOff_WithoutACheck()
    {
        var reports = new ReportsSection { DataDirectory = "" };
        Assert.Null(ReportDataDirectory.Prepare(reports, Env(), Unwritable()));
        Assert.Equal("", reports.DataDirectory);
    }

    [Fact]
    public void ConfiguredNotWritable_IsOneLine_OrAWarningWhenOptional()
    {
        var path = Unwritable();
        var e = Assert.Throws<ConfigException>(() => ReportDataDirectory.Prepare(new ReportsSection { DataDirectory = path }, Env()));
        Assert.StartsWith($"config: Reports:DataDirectory = \"{path}\": cannot be written (", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);

        var optional = new ReportsSection { DataDirectory = path, Optional = true };
        var warning = ReportDataDirectory.Prepare(optional, Env());
        Assert.NotNull(warning);
        Assert.EndsWith("running without DMARC reports (Reports:Optional is true)", warning, StringComparison.Ordinal);
        Assert.Equal("", optional.DataDirectory);
    }

    [Fact]
    public void UnsetAndNeitherDefaultWritable_NamesBoth()
    {
        var system = Unwritable();
        var e = Assert.Throws<ConfigException>(() => ReportDataDirectory.Prepare(new ReportsSection(), Env(("HOME", Path.Combine(system, "home"))), system));
        Assert.StartsWith($"config: Reports:DataDirectory is not set and neither {system} nor {Path.Combine(system, "home", ".local", "state", "milter")} can be written (",
            e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExistingDatabaseNewerThanThisMilter_IsRefusedAtStartUp()
    {
        var data = Path.Combine(_dir, "data");
        Assert.Null(ReportDataDirectory.Unwritable(data));
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DmarcReportStore.PathIn(data)};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO schema_version (version) VALUES (99);";
            command.ExecuteNonQuery();
        }
        Assert.Contains("newer", ReportDataDirectory.Unwritable(data), StringComparison.Ordinal);
    }
}
