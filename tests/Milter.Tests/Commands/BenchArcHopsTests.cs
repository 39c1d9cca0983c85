using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter bench --arc-hops N`: verify-mode messages carry N ARC sets sealed with the bench's key, which the
/// filter resolves through the same record as the DKIM signature, and the chain passes there. Counts only.</summary>
public sealed class BenchArcHopsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Sealed_messages_arrive_with_a_passing_chain_of_N_sets(int hops)
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var spec = $"inet:{FreePort.Next()}@127.0.0.1";
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", spec]);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["bench", "--connect", spec, "--messages", "30", "--concurrency", "2",
            "--mode", "verify", "--domain", SigningLab.Domain, "--selector", "rsa", "--key", lab.RsaKeyFile, "--arc-hops", hops.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            timeout: TimeSpan.FromSeconds(120));
        Assert.True(code == 0, stdout + stderr + daemon.Output);
        Assert.Contains("verdicts     continue 30 (non-continue 0)", stdout, StringComparison.Ordinal);
        Assert.True(await daemon.WaitForOutputAsync("ms=", TimeSpan.FromSeconds(10)), daemon.Output);
        var lines = daemon.Output.Split('\n').Where(l => l.Contains("verdict=continue", StringComparison.Ordinal)).ToList();
        // The log line gives the results without their comments (the A-R itself says "arc=pass (i=N sealers ...)").
        var passed = lines.Count(l => l.Contains("results=\"arc=pass ", StringComparison.Ordinal) && l.Contains("dkim=pass", StringComparison.Ordinal));
        Assert.True(passed == 30, $"{passed} of 30 with arc=pass and dkim=pass:\n" + string.Join("\n", lines.Take(3)));
    }

    [Theory]
    [InlineData("--connect inet:1@127.0.0.1 --domain example.test --arc-hops 2", "bench: --arc-hops needs --key")]
    [InlineData("--connect inet:1@127.0.0.1 --domain example.test --arc-hops 51", "bench: --arc-hops must be a number from 0")]
    public async Task Bad_arc_hops_exit_2_with_one_line(string args, string expected)
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["bench", .. args.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("milter: " + expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }
}
