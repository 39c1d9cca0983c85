using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Daemon;

/// <summary>Issue 20 items 2 and 3, issue 21 item 5: what `milter run` says when it cannot start, and where it keeps
/// the DMARC report store.</summary>
public sealed class StartupErrorTests
{
    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task AuthservIdTheWriterRefuses_StopsStartUp_WithOneLine()
    {
        // It started and then tempfailed every message: the A-R writer refused the id the config check had let through.
        using var dir = new TempDir("milter-authserv");
        var config = dir.File("milter.json");
        await File.WriteAllTextAsync(config, """{ "AuthservId": "mx@example.net" }""");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--config", config], timeout: TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith($"milter: config: AuthservId = \"mx@example.net\" (from {config}): it must be a host name", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongTypeFromTheEnvironment_NamesKeyValueTypeAndVariable()
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run"],
            environment: new Dictionary<string, string> { ["MILTER_Server__MaxConnections"] = "many" });
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal("milter: config: Server:MaxConnections = \"many\" (from MILTER_Server__MaxConnections) is not a whole number\n", stderr);
    }

    /// <summary>`milter run` on a port another socket holds.</summary>
    private static async Task<(int Code, string StdOut, string StdErr, int Port)> RunOnAPortInUse(params (string Name, string Value)[] environment)
    {
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        using var data = new TempDir("milter-inuse");
        var env = environment.ToDictionary(e => e.Name, e => e.Value);
        env["MILTER_Reports__DataDirectory"] = data.Path;
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--listen", $"inet:{port}@127.0.0.1"], environment: env);
        return (code, stdout, stderr, port);
    }

    [Fact]
    public async Task ListenAddressInUse_IsOneLine_WithoutAStackTrace()
    {
        var (code, stdout, stderr, port) = await RunOnAPortInUse();
        Assert.Equal(2, code);
        Assert.Equal($"milter: cannot listen on inet:{port}@127.0.0.1: Address already in use\n", stderr);
        Assert.DoesNotContain(" at ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListenAddressInUse_AtDebugLevel_TheFullExceptionIsLogged()
    {
        var (code, stdout, _, _) = await RunOnAPortInUse(("MILTER_LogLevel", "Debug"));
        Assert.Equal(2, code);
        Assert.Contains("SocketException", stdout, StringComparison.Ordinal);
    }

    /// <summary>A data directory no user can write: root ignores permission bits, so it is under a regular file (ENOTDIR).</summary>
    private static async Task<string> UnwritableDataDirectory(TempDir dir)
    {
        var file = dir.File("a-file");
        await File.WriteAllTextAsync(file, "");
        return Path.Combine(file, "data");
    }

    [Fact]
    public async Task DataDirectoryThatCannotBeWritten_StopsStartUp_WithOneLine()
    {
        using var dir = new TempDir("milter-datadir");
        var data = await UnwritableDataDirectory(dir);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--listen", $"inet:{FreePort.Next()}@127.0.0.1"],
            environment: new Dictionary<string, string> { ["MILTER_Reports__DataDirectory"] = data }, timeout: TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith($"milter: config: Reports:DataDirectory = \"{data}\" (from MILTER_Reports__DataDirectory): cannot be written (", line,
            StringComparison.Ordinal);
        Assert.EndsWith("or Reports:Optional to true to run without DMARC reports", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataDirectoryThatCannotBeWritten_WithReportsOptional_RunsWithOneWarning()
    {
        using var dir = new TempDir("milter-datadir");
        var data = await UnwritableDataDirectory(dir);
        await using var daemon = await MilterDaemon.StartAsync(["--listen", $"inet:{FreePort.Next()}@127.0.0.1"],
            new Dictionary<string, string> { ["MILTER_Reports__DataDirectory"] = data, ["MILTER_Reports__Optional"] = "true" });
        var warnings = Lines(daemon.Output).Where(l => l.Contains(" warn: ", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains($"Reports:DataDirectory = \"{data}\" (from MILTER_Reports__DataDirectory): cannot be written", warning, StringComparison.Ordinal);
        Assert.Contains("running without DMARC reports", warning, StringComparison.Ordinal);
        Assert.Contains("DMARC report store off", daemon.Output, StringComparison.Ordinal);
        Assert.Equal(0, await daemon.StopAsync());
    }

    [Fact]
    public async Task NormalUser_WithTheDefaultConfig_KeepsReportsInTheUserStateDirectory()
    {
        // A user who cannot write /var/lib/milter (here: nobody) runs `milter run` as from a checkout: the store goes to
        // $XDG_STATE_HOME/milter and works, instead of a "readonly database" error at the first message.
        var setpriv = ProcessRunner.Require("/usr/bin/setpriv", "util-linux");
        using var home = new TempDir("milter-home");
        TempDir.SetMode(home.Path, (UnixFileMode)0x1FF); // 0777: nobody writes its state here
        var state = Path.Combine(home.Path, "state");
        var spec = $"inet:{FreePort.Next()}@127.0.0.1";
        await using var daemon = BackgroundProcess.Start(setpriv,
        [
            "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin",
            $"HOME={home.Path}", $"XDG_STATE_HOME={state}", "dotnet", MilterDaemon.MilterDll, "run", "--listen", spec,
        ]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!daemon.Output.Contains("milter started", StringComparison.Ordinal) && !daemon.HasExited && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.True(daemon.Output.Contains("milter started", StringComparison.Ordinal), "milter did not start as nobody:\n" + daemon.Output);
        var expected = Path.Combine(state, "milter");
        Assert.Contains($"DMARC report store {expected}", daemon.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(expected, "dmarc-reports.sqlite")), "the store was not created in " + expected);
        Assert.DoesNotContain(" warn: ", daemon.Output, StringComparison.Ordinal);
        await daemon.StopAsync(TimeSpan.FromSeconds(30));
    }
}
