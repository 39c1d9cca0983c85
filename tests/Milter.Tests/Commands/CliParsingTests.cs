using Milter.Commands;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>Issue 20 item 1: help for `milter` and every command (--help, -h, `help COMMAND`), unknown options
/// and commands named with the one meant, stray arguments and missing values: exit 2 with one line on stderr.
/// In process where the runner can (CliProcessTests shows the executable answers the same), else as a process.</summary>
public sealed class CliParsingTests
{
    private static Task<(int ExitCode, string StdOut, string StdErr)> MilterAsync(params string[] args) =>
        MilterDaemon.RunCliAsync(args);

    public static TheoryData<string, string> CommandsAndHelpSpellings()
    {
        var data = new TheoryData<string, string>();
        foreach (var command in CliCommands.All)
        {
            data.Add(command.Name, "--help");
            data.Add(command.Name, "-h");
        }
        return data;
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public async Task Milter_help_lists_every_command_on_stdout_with_exit_0(string spelling)
    {
        var (code, stdout, stderr) = await MilterAsync(spelling);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("", stderr);
        // A two-word command ("keys rotate") is listed under its group ("keys").
        foreach (var command in CliCommands.All)
            Assert.Matches($@"(?m)^\s+{command.Name.Split(' ')[0]}\s+\S", stdout);
        Assert.Contains("--dns <HOST[:PORT][,HOST[:PORT]...]>", stdout, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 ok, 1 check failed, 2 bad usage or config, 3 temporary error", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(CommandsAndHelpSpellings))]
    public async Task Every_command_has_help_naming_its_options(string command, string spelling)
    {
        var (code, stdout, stderr) = await MilterAsync([.. command.Split(' '), spelling]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("", stderr);
        Assert.Contains($"milter {command} [options]", stdout, StringComparison.Ordinal);
        foreach (var option in CliCommands.All.Single(c => c.Name == command).Options)
            Assert.Contains("--" + option.Name + (option.IsFlag ? "" : $" <{option.Value}>"), stdout, StringComparison.Ordinal);
        Assert.Contains("--dns <", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_wins_over_other_options_and_help_COMMAND_is_COMMAND_help()
    {
        var (code, stdout, stderr) = await MilterAsync("verify", "--json", "--bogus", "--help");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("milter verify [options]", stdout, StringComparison.Ordinal);
        var (code2, stdout2, stderr2) = await MilterAsync("help", "spf");
        Assert.True(code2 == 0, stdout2 + stderr2);
        Assert.Contains("milter spf [options]", stdout2, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_group_without_its_subcommand_names_them_and_exits_2()
    {
        var (code, stdout, stderr) = await MilterAsync("keys");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal("milter: keys: a subcommand is needed: keys rotate or keys status (try: milter keys --help)\n", stderr);
        var (helpCode, help, _) = await MilterAsync("keys", "--help");
        Assert.Equal(0, helpCode);
        Assert.Matches(@"(?m)^\s+rotate\s+\S", help);
        Assert.Matches(@"(?m)^\s+status\s+\S", help);
    }

    [Fact]
    public async Task No_command_prints_the_help_and_exits_2()
    {
        var (code, stdout, _) = await MilterAsync();
        Assert.Equal(2, code);
        Assert.Contains("Commands:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_one_line_with_exit_0()
    {
        var (code, stdout, stderr) = await MilterAsync("--version");
        Assert.True(code == 0, stdout + stderr);
        Assert.Matches(@"^\d+\.\d+\.\d+\S*\n$", stdout);
    }

    [Theory]
    [InlineData(new[] { "verify", "--bogus" }, "verify: unknown option --bogus\n")]
    [InlineData(new[] { "verify", "--bogus", "x" }, "verify: unknown option --bogus\n")]
    [InlineData(new[] { "--bogus", "verify" }, "verify: unknown option --bogus\n")]
    [InlineData(new[] { "verify", "--jsn" }, "verify: unknown option --jsn; did you mean --json?\n")]
    [InlineData(new[] { "check", "--mailfrom", "a@b.test" }, "check: unknown option --mailfrom; did you mean --mail-from?\n")]
    [InlineData(new[] { "keygen", "--select", "s1" }, "keygen: unknown option --select; did you mean --selector?\n")]
    [InlineData(new[] { "testkey", "--dsn", "127.0.0.1" }, "testkey: unknown option --dsn; did you mean --dns?\n")]
    [InlineData(new[] { "verfy" }, "unknown command 'verfy'; did you mean verify? (try: milter --help)\n")]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate' (try: milter --help)\n")]
    [InlineData(new[] { "run", "extra" }, "run: unexpected argument 'extra'\n")]
    [InlineData(new[] { "run", "--listen", "inet:1@127.0.0.1", "inet:2@127.0.0.1" }, "run: unexpected argument 'inet:2@127.0.0.1'\n")]
    [InlineData(new[] { "bench", "--connect" }, "bench: --connect needs a value\n")]
    [InlineData(new[] { "spf", "--helo", "h.test", "--ip" }, "spf: --ip needs a value\n")]
    [InlineData(new[] { "--dns", "127.0.0.1:1" }, "no command given (try: milter --help)\n")]
    public async Task Usage_errors_are_one_line_naming_the_fault_with_exit_2(string[] args, string expected)
    {
        var (code, stdout, stderr) = await MilterAsync(args);
        Assert.True(code == 2, $"exit {code}: {stdout}{stderr}");
        Assert.Equal("milter: " + expected, stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task Shell_completion_suggests_commands_and_options()
    {
        // The library's [suggest] directive, as dotnet-suggest's shell scripts call it: [suggest:CURSOR] "LINE".
        var (code, stdout, stderr) = await MilterAsync("[suggest]", "ver");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("verify", stdout.Split('\n'));
        var (code2, stdout2, _) = await MilterAsync("[suggest:11]", "verify --js");
        Assert.Equal(0, code2);
        Assert.Contains("--json", stdout2.Split('\n'));
    }

    [Theory]
    [InlineData("ver", "verify", "; did you mean verify?")]
    [InlineData("--dsn", "--dns", "; did you mean --dns?")]
    [InlineData("--jsn", "--json", "; did you mean --json?")]
    [InlineData("--mail", "--mail-from", "; did you mean --mail-from?")]
    [InlineData("--colour", "--config", "")]
    [InlineData("--x", "--json", "")]
    public void Meant_names_a_near_or_started_name_only(string typed, string known, string expected)
    {
        Assert.Equal(expected, MilterCli.Meant(typed, [known, "--helo"]));
    }
}
