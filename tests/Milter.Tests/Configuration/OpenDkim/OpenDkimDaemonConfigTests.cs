using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Hosting;
using Milter.Keys;
using Milter.Tests.Fixtures;
using Milter.Tests.Hosting;
using Milter.Tests.Reporting;

namespace Milter.Tests.Configuration.OpenDkim;

/// <summary>`milter run --opendkim-config`: start-up errors (exit 2, one line), warnings at start, and SIGHUP re-reading the
/// OpenDKIM files (a broken table keeps the running config and says why).</summary>
public sealed class OpenDkimDaemonConfigTests : IDisposable
{
    private readonly OpenDkimFiles _files = new();
    private readonly CollectingLogger<MilterHostedService> _log = new();

    private void WriteSetup(string signingTable)
    {
        _files.Key("a");
        _files.Key("b");
        _files.Write("KeyTable", $"a a.example:a:{_files.Dir}/keys/a.private\nb b.example:b:{_files.Dir}/keys/b.private\n");
        _files.Write("SigningTable", signingTable);
        _files.WriteConf("KeyTable {DIR}/KeyTable\nSigningTable refile:{DIR}/SigningTable\nSocket inet:8891@127.0.0.1\nPidFile /run/x.pid\n");
    }

    [Fact]
    public async Task Sighup_rereads_the_tables_and_a_broken_table_keeps_the_running_config_with_the_reason()
    {
        WriteSetup("*@a.example a\n");
        var (options, _) = ConfigSources.Load(null, _files.Conf, ["inet:1@127.0.0.1"]);
        var arguments = new StartupArguments(null, ["inet:1@127.0.0.1"], null, _files.Conf);
        await using var service = new MilterHostedService(options, KeyStore.Load(options.Signing, TimeProvider.System), arguments, new OneLoggerFactory(_log));

        _files.Write("SigningTable", "*@a.example a\n*@b.example b\n");
        service.Reload();
        Assert.Contains(_log.Entries, e => e.Message == "reload: config and 2 signing key(s) loaded");
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("PidFile is not supported", StringComparison.Ordinal));

        var table = _files.Write("SigningTable", "*@a.example a\n*@c.example c\n");
        service.Reload();
        var error = Assert.Single(_log.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal($"reload failed, keeping the running config: opendkim: {table} line 2: SigningTable names the key \"c\", which the KeyTable does not have", error.Message);
        Assert.Single(_log.Entries, e => e.Message.StartsWith("reload: config", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_names_each_unsupported_option_in_one_warning_line_at_start()
    {
        WriteSetup("*@a.example a\n");
        File.AppendAllText(_files.Conf, "Syslog yes\nUserID opendkim\n");
        var port = Milter.TestKit.FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--opendkim-config", _files.Conf, "--listen", $"inet:{port}@127.0.0.1"]);
        var lines = daemon.Output.Split('\n');
        foreach (var option in new[] { "PidFile", "Syslog", "UserID" })
            Assert.Single(lines, l => l.Contains($": {option} is not supported: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("milter started", StringComparison.Ordinal) && l.Contains("; 1 signing key(s);", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_on_a_broken_table_exits_2_with_one_line_naming_the_file_and_line()
    {
        WriteSetup("*@a.example a\n\n*@c.example c\n");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--opendkim-config", _files.Conf]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"milter: opendkim: {_files.Dir}/SigningTable line 3: SigningTable names the key \"c\", which the KeyTable does not have\n", stderr);
    }

    [Fact]
    public async Task Run_and_config_together_is_a_usage_error()
    {
        WriteSetup("*@a.example a\n");
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["run", "--opendkim-config", _files.Conf, "--config", _files.Conf]);
        Assert.Equal(2, code);
        Assert.Equal("milter: config: give --config or --opendkim-config, not both\n", stderr);
    }

    public void Dispose() => _files.Dispose();
}
