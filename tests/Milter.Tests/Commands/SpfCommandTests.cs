using System.Text.Json;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter spf` through the CLI (in process, see CliProcessTests); SPF records served by Knot on loopback.</summary>
[Collection(AuthCliCollection.Name)]
public sealed class SpfCommandTests(AuthCliFixture lab)
{
    private Task<(int ExitCode, string StdOut, string StdErr)> SpfAsync(string ip, string mailFrom, params string[] extra) =>
        MilterDaemon.RunCliAsync(["spf", "--ip", ip, "--helo", "helo.auth.test", "--mail-from", mailFrom, .. lab.DnsArgs, .. extra]);

    private static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData("192.0.2.10", "user@auth.test", 0, "spf=pass smtp.mailfrom=user@auth.test domain=auth.test")]
    [InlineData("203.0.113.5", "user@auth.test", 1, "spf=fail smtp.mailfrom=user@auth.test domain=auth.test")]
    [InlineData("192.0.2.2", "user@soft.auth.test", 1, "spf=softfail smtp.mailfrom=user@soft.auth.test domain=soft.auth.test")]
    [InlineData("192.0.2.2", "user@neutral.auth.test", 1, "spf=neutral smtp.mailfrom=user@neutral.auth.test domain=neutral.auth.test")]
    [InlineData("192.0.2.2", "user@nothing.auth.test", 1, "spf=none smtp.mailfrom=user@nothing.auth.test domain=nothing.auth.test")]
    [InlineData("192.0.2.2", "<>", 1, "spf=fail smtp.mailfrom=postmaster@helo.auth.test domain=helo.auth.test")]
    public async Task Mail_from_results_and_exit_codes(string ip, string mailFrom, int exit, string firstLine)
    {
        var (code, stdout, stderr) = await SpfAsync(ip, mailFrom);
        Assert.True(code == exit, $"exit {code}: {stdout}{stderr}");
        Assert.Equal(firstLine, Lines(stdout)[0]);
        Assert.Contains("  reason: ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_helo_identity_is_checked_too()
    {
        var (code, stdout, _) = await SpfAsync("198.51.100.7", "user@auth.test");
        Assert.Equal(1, code); // MAIL FROM decides: auth.test does not allow 198.51.100.7
        Assert.Contains("helo: spf=pass smtp.helo=helo.auth.test\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fail_prints_the_domain_explanation()
    {
        var (code, stdout, _) = await SpfAsync("203.0.113.5", "user@exp.auth.test");
        Assert.Equal(1, code);
        Assert.Contains("  explanation: 203.0.113.5 may not send mail for exp.auth.test\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_is_the_spf_object_of_check()
    {
        var (code, stdout, _) = await SpfAsync("192.0.2.10", "user@auth.test", "--json");
        Assert.Equal(0, code);
        Assert.Equal("{\"result\":\"pass\",\"domain\":\"auth.test\",\"explanation\":null}", stdout.Trim());

        (code, stdout, _) = await SpfAsync("203.0.113.5", "user@exp.auth.test", "--json");
        Assert.Equal(1, code);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        Assert.Equal("fail", root.GetProperty("result").GetString());
        Assert.Equal("exp.auth.test", root.GetProperty("domain").GetString());
        Assert.Equal("203.0.113.5 may not send mail for exp.auth.test", root.GetProperty("explanation").GetString());
    }

    [Fact]
    public async Task A_dns_server_that_never_answers_is_temperror_with_exit_3()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(
            ["spf", "--ip", "192.0.2.10", "--helo", "helo.auth.test", "--mail-from", "user@auth.test", "--dns", $"127.0.0.1:{blackhole.Port}", "--json"],
            timeout: TimeSpan.FromSeconds(90));
        Assert.Equal(3, code);
        Assert.Equal("{\"result\":\"temperror\",\"domain\":\"auth.test\",\"explanation\":null}", stdout.Trim());
    }

    [Theory]
    [InlineData("--ip nowhere --helo h.test --mail-from a@b.test", "spf: --ip 'nowhere' is not an IPv4 or IPv6 address")]
    [InlineData("--helo h.test --mail-from a@b.test", "spf: --ip is required")]
    [InlineData("--ip 1.2.3 --helo h.test --mail-from a@b.test --dns 127.0.0.1:9", "spf: --ip '1.2.3' is not an IPv4 or IPv6 address")]
    [InlineData("--ip 0x7f.1 --helo h.test --mail-from a@b.test --dns 127.0.0.1:9", "spf: --ip '0x7f.1' is not an IPv4 or IPv6 address")]
    [InlineData("--ip 2130706433 --helo h.test --mail-from a@b.test --dns 127.0.0.1:9", "spf: --ip '2130706433' is not an IPv4 or IPv6 address")]
    [InlineData("--ip 192.0.2.010 --helo h.test --mail-from a@b.test --dns 127.0.0.1:9", "spf: --ip '192.0.2.010' is not an IPv4 or IPv6 address")]
    [InlineData("--ip 192.0.2.1 --mail-from a@b.test", "spf: --helo is required")]
    [InlineData("--ip 192.0.2.1 --helo h.test", "spf: --mail-from is required")]
    public async Task Bad_options_exit_2(string args, string expected)
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["spf", .. args.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal("milter: " + expected, stderr.Trim());
    }
}
