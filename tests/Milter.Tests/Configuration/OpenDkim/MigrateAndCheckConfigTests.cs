using System.Text.Json;
using Milter.Commands;
using Milter.Configuration;
using Milter.Configuration.OpenDkim;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Configuration.OpenDkim;

/// <summary>Issue 15 items 3 and 4: `milter migrate` prints a JSON config that signs as the OpenDKIM files do;
/// `milter check-config` checks tables, key files and every key's DNS record, one line per finding.</summary>
public sealed class MigrateAndCheckConfigTests : IDisposable
{
    private readonly OpenDkimFiles _files = new();

    private static readonly string[] Addresses =
    [
        "a@a.example", "BOSS@a.example", "x@sub.a.example", "x@b.example", "y@deep.b.example", "z@c.example", "z@other.example",
        "u@d.example", "u@x.d.example", "u@e.example", "u@x.e.example", "u@example.org", "", "nobody@f.example",
    ];

    private static string Decisions(KeyStore store) => string.Join("\n", Addresses.Select(a =>
    {
        var domain = a[(a.LastIndexOf('@') + 1)..];
        return a + " -> " + string.Join(" ", store.SignersFor(a, domain).Select(s => $"{s.Options.Domain}/{s.Options.Selector}/{s.Options.Key.Algorithm}"));
    }));

    private string WriteTables(bool multiple)
    {
        foreach (var k in new[] { "a", "b", "relay" }) _files.Key(k);
        _files.Key("b-ed", DkimKeyType.Ed25519);
        _files.Key("c.example");
        _files.Write("KeyTable", $"""
            a        a.example:a:{_files.Dir}/keys/a.private
            b        b.example:b:{_files.Dir}/keys/b.private
            b-ed     b.example:b-ed:{_files.Dir}/keys/b-ed.private
            relay    relay.example:relay:{_files.Dir}/keys/relay.private
            c.example  %:pct:{_files.Dir}/keys/%.private
            """);
        _files.Write("SigningTable", """
            boss@a.example   relay
            *@a.example      a
            *.a.example      a
            *@b.example      b
            *@b.example      b-ed
            *b.example       b
            *@c.example      %
            *@*.org          relay
            """);
        return _files.WriteConf($"""
            KeyTable file:{_files.Dir}/KeyTable
            SigningTable refile:{_files.Dir}/SigningTable
            InternalHosts 10.0.0.0/8, !10.1.1.1, .corp.example
            Canonicalization relaxed/simple
            {(multiple ? "MultipleSignatures yes" : "")}
            Socket inet:8891@localhost
            """);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_migrated_json_makes_the_same_signing_decisions_as_the_opendkim_files(bool multiple)
    {
        WriteTables(multiple);
        var translation = OpenDkimTranslator.Load(_files.Conf);
        var direct = KeyStore.Load(translation.Options.Signing, TimeProvider.System);
        var json = _files.Write("milter.json", MigrateCommand.ToJson(translation.Options));
        var migrated = ConfigLoader.Load(json, environment: false);
        var viaJson = KeyStore.Load(migrated.Signing, TimeProvider.System);

        Assert.Equal(Decisions(direct), Decisions(viaJson));
        Assert.Contains("a@a.example -> a.example/a/rsa-sha256", Decisions(direct), StringComparison.Ordinal);
        Assert.Contains("z@c.example -> c.example/pct/rsa-sha256", Decisions(direct), StringComparison.Ordinal);
        Assert.Equal(translation.Options.Signing.InternalHosts, migrated.Signing.InternalHosts);
        Assert.Equal("relaxed/simple", migrated.Signing.Canonicalization);
        Assert.Equal(["inet:8891@localhost"], migrated.Listen!);
        if (multiple) Assert.Contains("x@b.example -> b.example/b/rsa-sha256 b.example/b-ed/ed25519-sha256", Decisions(viaJson), StringComparison.Ordinal);
        else Assert.Contains("x@b.example -> b.example/b/rsa-sha256\n", Decisions(viaJson), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_prints_json_on_stdout_and_the_report_on_stderr()
    {
        WriteTables(multiple: false);
        File.AppendAllText(_files.Conf, "\nPidFile /run/opendkim.pid\n");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["migrate", "--opendkim-config", _files.Conf]);
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(8, doc.RootElement.GetProperty("Signing").GetProperty("Rules").GetArrayLength()); // % reaches one KeyTable entry
        var lines = stderr.Trim().Split('\n');
        Assert.Contains(lines, l => l.StartsWith("translated: SigningTable (", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("no equivalent: opendkim: ", StringComparison.Ordinal) && l.Contains("PidFile is not supported", StringComparison.Ordinal));
        Assert.StartsWith("migrate: ", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_checks_every_key_record_warns_on_unaligned_d_and_answers_from()
    {
        WriteTables(multiple: false);
        DkimPrivateKey Pub(string name) => DkimPrivateKey.Load(File.ReadAllText($"{_files.Dir}/keys/{name}.private")).Key!;
        using var a = Pub("a");
        using var b = Pub("b");
        using var bEd = Pub("b-ed");
        using var relay = Pub("relay");
        await using var knot = await KnotDnsServer.StartAsync(
            new DnsZone("a.example").Txt("a._domainkey", a.PublicKeyRecord),
            new DnsZone("b.example").Txt("b._domainkey", b.PublicKeyRecord).Txt("b-ed._domainkey", bEd.PublicKeyRecord),
            new DnsZone("relay.example").Txt("relay._domainkey", b.PublicKeyRecord)); // the wrong key

        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["check-config", "--opendkim-config", _files.Conf,
            "--from", "Boss@a.example", "--dns", $"127.0.0.1:{knot.Port}"]);

        Assert.Equal("", stderr);
        Assert.Equal(1, code);
        var lines = stdout.Trim().Split('\n');
        Assert.Contains(lines, l => l.StartsWith("warning: opendkim: ", StringComparison.Ordinal) && l.Contains("key \"b-ed\" is an Ed25519 key", StringComparison.Ordinal));
        Assert.Contains("ok: config loaded: 8 signing rule(s), 5 key(s)", lines);
        Assert.Contains("from Boss@a.example: signed with d=relay.example s=relay (rsa-sha256)", lines);
        Assert.Contains("rule Signing:Rules:1 (*@a.example): from x@a.example: signed with d=a.example s=a (rsa-sha256)", lines);
        Assert.Contains("warning: rule Signing:Rules:0 signs From boss@a.example with d=relay.example: not aligned with the From domain, so DMARC cannot pass on this signature", lines);
        Assert.Contains($"ok: the record at a._domainkey.a.example matches key file {_files.Dir}/keys/a.private (rsa-sha256, 1024-bit RSA)", lines);
        Assert.Contains($"ok: the record at b-ed._domainkey.b.example matches key file {_files.Dir}/keys/b-ed.private (ed25519-sha256)", lines);
        Assert.Contains($"fail: key mismatch: the record at relay._domainkey.relay.example is not the public key of key file {_files.Dir}/keys/relay.private", lines);
        Assert.Contains(lines, l => l.StartsWith("skipped: key Signing:Rules:", StringComparison.Ordinal) && l.Contains("(%/pct, ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_config_on_a_broken_table_is_exit_2_naming_the_line()
    {
        WriteTables(multiple: false);
        var table = _files.Write("SigningTable", "*@a.example a\nexample.org relay\n");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["check-config", "--opendkim-config", _files.Conf]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"milter: opendkim: {table} line 2: refile pattern \"example.org\" matches no address", stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _files.Dispose();
}
