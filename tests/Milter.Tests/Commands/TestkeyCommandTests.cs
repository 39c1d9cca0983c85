using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter testkey` through the CLI (in process, see CliProcessTests) against records served by Knot on loopback.</summary>
[Collection(CliKeysCollection.Name)]
public sealed class TestkeyCommandTests(CliKeysFixture keys)
{
    private const string Domain = CliKeysFixture.Domain;

    private Task<(int ExitCode, string StdOut, string StdErr)> TestkeyAsync(string selector, string keySelector) =>
        MilterDaemon.RunCliAsync(["testkey", "--domain", Domain, "--selector", selector, "--key", keys.PrivateKey(keySelector), .. keys.DnsArgs]);

    [Theory]
    [InlineData("rsa1", "rsa-sha256, 2048-bit RSA")]
    [InlineData("ed1", "ed25519-sha256")]
    public async Task Published_keygen_record_matches(string selector, string detail)
    {
        var (code, stdout, stderr) = await TestkeyAsync(selector, selector);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal($"ok: the record at {selector}._domainkey.{Domain} matches key file {keys.PrivateKey(selector)} ({detail})", stdout.Trim());
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task A_1024_bit_key_matches_with_a_warning()
    {
        var (code, stdout, stderr) = await TestkeyAsync("small", "small");
        Assert.Equal(0, code);
        Assert.StartsWith("ok: ", stdout, StringComparison.Ordinal);
        Assert.Contains("warning: 1024-bit RSA key", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_record_with_another_key_is_a_mismatch()
    {
        var (code, stdout, _) = await TestkeyAsync("swapped", "rsa1");
        Assert.Equal(1, code);
        Assert.Equal($"fail: key mismatch: the record at swapped._domainkey.{Domain} is not the public key of key file {keys.PrivateKey("rsa1")}", stdout.Trim());
    }

    [Fact]
    public async Task A_revoked_key_fails()
    {
        var (code, stdout, _) = await TestkeyAsync("revoked", "rsa1");
        Assert.Equal(1, code);
        Assert.Equal($"fail: key revoked: the record at revoked._domainkey.{Domain} has an empty p= (RFC 6376 3.6.1)", stdout.Trim());
    }

    [Fact]
    public async Task A_missing_record_fails()
    {
        var (code, stdout, _) = await TestkeyAsync("absent", "rsa1");
        Assert.Equal(1, code);
        Assert.Equal($"fail: no TXT record at absent._domainkey.{Domain} (NXDOMAIN)", stdout.Trim());
    }

    [Theory]
    [InlineData("twice", "ed1", "fail: 2 TXT records at twice._domainkey.cli.test; publish exactly one key record there")]
    [InlineData("broken", "rsa1", "fail: syntax error in the record at broken._domainkey.cli.test:")]
    [InlineData("edtype", "rsa1", "fail: key type mismatch: the record at edtype._domainkey.cli.test has k=ed25519, key file")]
    [InlineData("weak", "rsa1", "fail: weak key: the record at weak._domainkey.cli.test holds a 512-bit RSA key")]
    [InlineData("rsa1", "ed1", "fail: key type mismatch: the record at rsa1._domainkey.cli.test has k=rsa, key file")]
    public async Task Bad_records_fail_with_one_line(string selector, string keySelector, string expected)
    {
        var (code, stdout, _) = await TestkeyAsync(selector, keySelector);
        Assert.Equal(1, code);
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dns_server_that_never_answers_gives_exit_3()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(
            ["testkey", "--domain", Domain, "--selector", "rsa1", "--key", keys.PrivateKey("rsa1"), "--dns", $"127.0.0.1:{blackhole.Port}"]);
        Assert.Equal(3, code);
        Assert.StartsWith($"temperror: the DNS lookup of TXT rsa1._domainkey.{Domain} failed temporarily", stdout.Trim(), StringComparison.Ordinal);
        Assert.True(blackhole.QueriesSwallowed > 0);
    }

    [Fact]
    public async Task Dns_servers_come_from_the_config_when_there_is_no_dns_option()
    {
        using var dir = new TempDir("testkey");
        var config = dir.File("milter.json");
        File.WriteAllText(config, $$"""{ "Dns": { "Servers": [ "127.0.0.1:{{keys.Knot.Port}}" ] } }""");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["testkey", "--domain", Domain, "--selector", "ed1", "--key", keys.PrivateKey("ed1"), "--config", config]);
        Assert.True(code == 0, stdout + stderr);
    }

    [Fact]
    public async Task An_unreadable_key_file_exits_2_naming_it()
    {
        using var dir = new TempDir("testkey");
        var missing = dir.File("missing.private");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["testkey", "--domain", Domain, "--selector", "rsa1", "--key", missing, .. keys.DnsArgs]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"milter: testkey: key file {missing} does not exist", stderr.Trim());

        var garbage = dir.File("garbage.private");
        File.WriteAllText(garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        (code, _, stderr) = await MilterDaemon.RunCliAsync(
            ["testkey", "--domain", Domain, "--selector", "rsa1", "--key", garbage, .. keys.DnsArgs]);
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"milter: testkey: key file {garbage}: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_file_readable_by_others_gets_a_warning()
    {
        using var dir = new TempDir("testkey");
        var copy = dir.File("exposed.private");
        File.Copy(keys.PrivateKey("ed1"), copy);
        TempDir.SetMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["testkey", "--domain", Domain, "--selector", "ed1", "--key", copy, .. keys.DnsArgs]);
        Assert.Equal(0, code);
        Assert.StartsWith("ok: ", stdout, StringComparison.Ordinal);
        Assert.Equal($"warning: key file {copy} is accessible by group or others (mode 0644); run chmod 600 {copy}", stderr.Trim());
    }
}
