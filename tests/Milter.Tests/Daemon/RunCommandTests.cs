using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Daemon;

/// <summary>The `milter run` process as a postmaster starts it.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public async Task BadConfigValue_ExitsWith2_AndOneLineNamingKeyAndValue()
    {
        var dir = Directory.CreateTempSubdirectory("milter-run-").FullName;
        try
        {
            var config = Path.Combine(dir, "milter.json");
            await File.WriteAllTextAsync(config, """{ "Server": { "MaxConnections": -5 } }""");
            var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--config", config]);
            Assert.Equal(2, code);
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.Contains("Server:MaxConnections", lines[0], StringComparison.Ordinal);
            Assert.Contains("\"-5\"", lines[0], StringComparison.Ordinal);
            Assert.Equal("", stdout);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task BadEnvironmentOverride_ExitsWith2()
    {
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["run"],
            environment: new Dictionary<string, string> { ["MILTER_Verification__MaxSignatures"] = "999" });
        Assert.Equal(2, code);
        Assert.Contains("Verification:MaxSignatures", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownEnvironmentKey_IsOneLineNamingTheVariable_AndTheKeyMeant()
    {
        // Issue 20: this printed the binder's internals (BinderOptions, Milter.Configuration.DmarcSection).
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run"],
            environment: new Dictionary<string, string> { ["MILTER_Dmarc__RejectOnFailur"] = "true" });
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal("milter: config: unknown key Dmarc:RejectOnFailur (value \"true\", from MILTER_Dmarc__RejectOnFailur); did you mean Dmarc:RejectOnFailure?\n",
            stderr);
    }

    [Fact]
    public async Task ListFromTheEnvironmentAsOneValue_SaysHowToSetAList()
    {
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["run"],
            environment: new Dictionary<string, string> { ["MILTER_Listen"] = "inet:8891@127.0.0.1" },
            timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(2, code);
        Assert.Equal("milter: config: Listen must be a list; from the environment set MILTER_Listen__0, MILTER_Listen__1, ... " +
            "(got \"inet:8891@127.0.0.1\", from MILTER_Listen)\n", stderr);
    }

    [Fact]
    public async Task UnknownCommandAndOption_ExitWith2()
    {
        var (code1, _, err1) = await MilterDaemon.RunCliAsync(["frobnicate"]);
        Assert.Equal(2, code1);
        Assert.Contains("unknown command", err1, StringComparison.Ordinal);
        var (code2, _, err2) = await MilterDaemon.RunCliAsync(["run", "--colour", "blue"]);
        Assert.Equal(2, code2);
        Assert.Contains("--colour", err2, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ListensAndAnswersHealth_ThenDrainsOnSigterm()
    {
        var port = FreePort.Next();
        var spec = $"inet:{port}@127.0.0.1";
        await using var daemon = await MilterDaemon.StartAsync(["--listen", spec]);
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(["health", "--connect", spec]);
        Assert.True(code == 0, stdout);
        Assert.Contains("ok", stdout, StringComparison.Ordinal);
        Assert.Equal(0, await daemon.StopAsync());
        Assert.Contains("milter stopped", daemon.Output, StringComparison.Ordinal);
        var (after, _, _) = await MilterDaemon.RunCliAsync(["health", "--connect", spec, "--timeout-ms", "2000"]);
        Assert.Equal(1, after);
    }

    [Fact]
    public async Task Health_takes_the_address_from_the_config_file()
    {
        using var dir = new TempDir("milter-health");
        var port = FreePort.Next();
        var config = dir.File("milter.json");
        await File.WriteAllTextAsync(config, $$"""{ "Listen": [ "inet:{{port}}@127.0.0.1" ] }""");
        await using var daemon = await MilterDaemon.StartAsync(["--config", config]);
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(["health", "--config", config]);
        Assert.True(code == 0, stdout);
        Assert.Contains($"inet:{port}@127.0.0.1", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ListenAddressInUse_ExitsWith2_NamingTheSpec()
    {
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["run", "--listen", $"inet:{port}@127.0.0.1"]);
        Assert.Equal(2, code);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_OnUnixSocket_HealthOverUnix()
    {
        var dir = Directory.CreateTempSubdirectory("milter-sock-").FullName;
        try
        {
            var spec = "unix:" + Path.Combine(dir, "milter.sock");
            await using var daemon = await MilterDaemon.StartAsync(["--listen", spec]);
            var (code, stdout, _) = await MilterDaemon.RunCliAsync(["health", "--connect", spec]);
            Assert.True(code == 0, stdout);
            await daemon.StopAsync();
            Assert.False(File.Exists(Path.Combine(dir, "milter.sock")), "the socket file is removed on exit");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
