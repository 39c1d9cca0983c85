using System.Text.Json;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter dmarc` through the CLI (in process, see CliProcessTests); DMARC records served by Knot on loopback.</summary>
[Collection(DmarcCliCollection.Name)]
public sealed class DmarcCommandTests(DmarcCliFixture lab)
{
    private Task<(int ExitCode, string StdOut, string StdErr)> DmarcAsync(string domain, params string[] extra) =>
        MilterDaemon.RunCliAsync(["dmarc", "--domain", domain, .. lab.DnsArgs, .. extra]);

    private static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task A_record_at_the_domain_itself_applies_p()
    {
        var (code, stdout, stderr) = await DmarcAsync("org.dmarctld");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(
        [
            "domain: org.dmarctld",
            "discovery: treewalk (rfc9989)",
            "queried: _dmarc.org.dmarctld (record found)",
            "queried: _dmarc.dmarctld",
            "found: _dmarc.org.dmarctld (the domain itself)",
            "record: " + DmarcCliFixture.OrgRecord,
            "tags: p=reject sp=quarantine np=reject adkim=r aspf=r t=n psd=u fo=0 rua=mailto:agg@org.dmarctld ruf=",
            "organizational domain: org.dmarctld",
            "policy: p=reject (the record is at the domain itself)",
        ], Lines(stdout));
    }

    [Fact]
    public async Task The_walk_finds_the_organizational_domain_record_for_an_existing_subdomain()
    {
        var (code, stdout, stderr) = await DmarcAsync("sub.org.dmarctld");
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(stdout);
        Assert.Equal(
        [
            "queried: _dmarc.sub.org.dmarctld",
            "queried: _dmarc.org.dmarctld (record found)",
            "queried: _dmarc.dmarctld",
            "found: _dmarc.org.dmarctld (the organizational domain)",
        ], lines[2..6]);
        Assert.Contains("organizational domain: org.dmarctld", lines);
        Assert.Equal("policy: sp=quarantine (sub.org.dmarctld exists)", lines[^1]);
    }

    [Fact]
    public async Task A_subdomain_that_does_not_exist_gets_np()
    {
        var (code, stdout, _) = await DmarcAsync("ghost.org.dmarctld");
        Assert.Equal(0, code);
        Assert.Equal("policy: np=reject (ghost.org.dmarctld does not exist)", Lines(stdout)[^1]);
    }

    [Fact]
    public async Task A_domain_without_its_own_or_an_org_record_gets_the_public_suffix_domain_record()
    {
        var (code, stdout, _) = await DmarcAsync("psdonly.dmarctld");
        Assert.Equal(0, code);
        var lines = Lines(stdout);
        Assert.Contains("found: _dmarc.dmarctld (the public suffix domain)", lines);
        Assert.Contains("tags: p=quarantine sp=quarantine np=quarantine adkim=r aspf=r t=n psd=y fo=0 rua= ruf=", lines);
        Assert.Contains("organizational domain: psdonly.dmarctld", lines);
        Assert.Equal("policy: p=quarantine (psdonly.dmarctld exists)", lines[^1]);
    }

    [Fact]
    public async Task No_record_anywhere_is_exit_1()
    {
        var (code, stdout, _) = await DmarcAsync("plain.nodmarc");
        Assert.Equal(1, code);
        Assert.Equal(
        [
            "domain: plain.nodmarc",
            "discovery: treewalk (rfc9989)",
            "queried: _dmarc.plain.nodmarc",
            "queried: _dmarc.nodmarc",
            "none: no DMARC record found for plain.nodmarc",
            "organizational domain: plain.nodmarc",
        ], Lines(stdout));
    }

    [Fact]
    public async Task The_mode_comes_from_the_config_unless_mode_is_given()
    {
        using var dir = new Milter.TestKit.TempDir("dmarc-mode");
        var config = Path.Combine(dir.Path, "milter.json");
        await File.WriteAllTextAsync(config, """{ "Dmarc": { "Mode": "rfc7489" } }""");

        var (code, stdout, stderr) = await DmarcAsync("sub.org.dmarctld", "--config", config);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("discovery: psl (rfc7489)", Lines(stdout)[1]);

        (code, stdout, stderr) = await DmarcAsync("sub.org.dmarctld", "--config", config, "--mode", "rfc9989");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("discovery: treewalk (rfc9989)", Lines(stdout)[1]);
    }

    [Fact]
    public async Task Rfc7489_mode_uses_the_public_suffix_list_and_shows_pct_rf_ri()
    {
        var (code, stdout, stderr) = await DmarcAsync("sub.org.dmarctld", "--mode", "rfc7489");
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(stdout);
        Assert.Equal("discovery: psl (rfc7489)", lines[1]);
        Assert.Equal(["queried: _dmarc.sub.org.dmarctld", "queried: _dmarc.org.dmarctld (record found)"], lines[2..4]);
        Assert.Contains("tags: p=reject sp=quarantine adkim=r aspf=r fo=0 rua=mailto:agg@org.dmarctld ruf= pct=100 rf=afrf ri=86400", lines);
        Assert.Equal("policy: sp=quarantine (the domain is below the policy domain)", lines[^1]);
    }

    [Fact]
    public async Task Json_is_one_camel_case_object_with_the_walk()
    {
        var (code, stdout, _) = await DmarcAsync("sub.org.dmarctld", "--json");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        Assert.Equal(["domain", "result", "mode", "discoveryMethod", "queried", "severalRecords", "severalRecordsRule", "recordDomain", "source", "record", "tags",
            "organizationalDomain", "policyTag", "policy", "domainExists", "reason", "warnings"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("sub.org.dmarctld", root.GetProperty("domain").GetString());
        Assert.Equal("found", root.GetProperty("result").GetString());
        Assert.Equal("rfc9989", root.GetProperty("mode").GetString());
        Assert.Equal("treewalk", root.GetProperty("discoveryMethod").GetString());
        Assert.Equal(["_dmarc.sub.org.dmarctld", "_dmarc.org.dmarctld", "_dmarc.dmarctld"],
            root.GetProperty("queried").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("org.dmarctld", root.GetProperty("recordDomain").GetString());
        Assert.Equal("organizationalDomain", root.GetProperty("source").GetString());
        Assert.Equal(DmarcCliFixture.OrgRecord, root.GetProperty("record").GetString());
        var tags = root.GetProperty("tags");
        Assert.Equal("reject", tags.GetProperty("p").GetString());
        Assert.Equal("quarantine", tags.GetProperty("sp").GetString());
        Assert.Equal("reject", tags.GetProperty("np").GetString());
        Assert.Equal("r", tags.GetProperty("adkim").GetString());
        Assert.Equal("mailto:agg@org.dmarctld", tags.GetProperty("rua").GetString());
        Assert.Equal("org.dmarctld", root.GetProperty("organizationalDomain").GetString());
        Assert.Equal("sp", root.GetProperty("policyTag").GetString());
        Assert.Equal("quarantine", root.GetProperty("policy").GetString());
        Assert.True(root.GetProperty("domainExists").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("reason").ValueKind);
        Assert.Empty(root.GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public async Task Json_for_no_record_has_nulls()
    {
        var (code, stdout, _) = await DmarcAsync("plain.nodmarc", "--json");
        Assert.Equal(1, code);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        Assert.Equal("none", root.GetProperty("result").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("record").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("tags").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("policy").ValueKind);
        Assert.Equal("no DMARC record found for plain.nodmarc", root.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Several_records_at_the_domain_are_discarded_and_the_walk_goes_on_in_rfc9989_mode()
    {
        var (code, stdout, stderr) = await DmarcAsync("dup.org.dmarctld");
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(stdout);
        Assert.Equal(
        [
            "queried: _dmarc.dup.org.dmarctld (several records: all discarded, the walk goes on, RFC 9989 4.10)",
            "queried: _dmarc.org.dmarctld (record found)",
            "queried: _dmarc.dmarctld",
            "found: _dmarc.org.dmarctld (the organizational domain)",
        ], lines[2..6]);
        Assert.Equal("policy: sp=quarantine (dup.org.dmarctld exists)", lines[^1]);
    }

    [Fact]
    public async Task Several_records_at_the_domain_stop_discovery_in_rfc7489_mode()
    {
        var (code, stdout, _) = await DmarcAsync("dup.org.dmarctld", "--mode", "rfc7489");
        Assert.Equal(1, code);
        Assert.Equal(
        [
            "domain: dup.org.dmarctld",
            "discovery: psl (rfc7489)",
            "queried: _dmarc.dup.org.dmarctld (several records: discovery stops, DMARC not applied, RFC 7489 6.6.3)",
            "none: 2 DMARC records at _dmarc.dup.org.dmarctld: DMARC not applied (RFC 7489 6.6.3)",
            "organizational domain: org.dmarctld",
        ], Lines(stdout));
    }

    [Theory]
    [InlineData("rfc9989", "found", "discarded-walk-goes-on")]
    [InlineData("rfc7489", "none", "discovery-stops")]
    public async Task Json_names_the_rule_for_several_records(string mode, string result, string rule)
    {
        var (_, stdout, _) = await DmarcAsync("dup.org.dmarctld", "--json", "--mode", mode);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        Assert.Equal(result, root.GetProperty("result").GetString());
        Assert.Equal(["_dmarc.dup.org.dmarctld"], root.GetProperty("severalRecords").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(rule, root.GetProperty("severalRecordsRule").GetString());
        var plain = JsonDocument.Parse(Assert.Single(Lines((await DmarcAsync("sub.org.dmarctld", "--json", "--mode", mode)).StdOut))).RootElement;
        Assert.Empty(plain.GetProperty("severalRecords").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, plain.GetProperty("severalRecordsRule").ValueKind);
    }

    [Fact]
    public async Task A_dns_server_that_never_answers_is_temperror_with_exit_3()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(
            ["dmarc", "--domain", "org.dmarctld", "--dns", $"127.0.0.1:{blackhole.Port}"], timeout: TimeSpan.FromSeconds(90));
        Assert.Equal(3, code);
        var lines = Lines(stdout);
        Assert.Equal("queried: _dmarc.org.dmarctld", lines[2]);
        Assert.StartsWith("temperror: DNS lookup of _dmarc.org.dmarctld failed", lines[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--domain bad..name", "dmarc: --domain 'bad..name' is not a valid domain name")]
    [InlineData("--domain xn--zz.com", "dmarc: --domain 'xn--zz.com' is not a valid domain name")] // issue 13: was exit 3
    [InlineData("--domain org.dmarctld --mode rfc1234", "dmarc: --mode must be rfc9989 or rfc7489, not 'rfc1234'")]
    [InlineData("--json", "dmarc: --domain is required")]
    public async Task Bad_usage_is_exit_2(string args, string expected)
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["dmarc", .. args.Split(' '), .. lab.DnsArgs]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal("milter: " + expected, stderr.Trim());
    }
}
