using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.Tests.Configuration.OpenDkim;

namespace Milter.Tests.EndToEnd;

/// <summary>
/// Issue 15 proof: Debian's OpenDKIM and milter on the very same OpenDKIM files, the same 200 messages each (varied
/// clients, authenticated or not, varied From addresses): the same set of signed messages, identical d=, s=, a= and c=
/// per signature, and every signature verifies with dkimpy. Every configuration carries "RequireSafeKeys no" only
/// because OpenDKIM refuses keys below /tmp (a directory others can write); the keys themselves are 0600.
/// </summary>
public sealed class OpenDkimDifferentialTests : IAsyncLifetime
{
    private const int Messages = 200;
    private readonly OpenDkimFiles _files = new();
    private readonly int _port = FreePort.Next();
    private KnotDnsServer? _dns;
    private readonly Dictionary<string, string> _keyFiles = new(StringComparer.OrdinalIgnoreCase);

    private static readonly (string Ip, string Name)[] Clients =
    [
        ("127.0.0.1", "localhost"), ("192.0.2.10", "mail.outside.example"), ("::1", "localhost"), ("198.51.100.7", "[198.51.100.7]"),
    ];

    public async Task InitializeAsync() => _dns = await KnotDnsServer.StartAsync(new DnsZone("lab.example").Txt("@", "v=spf1 -all"));

    public async Task DisposeAsync()
    {
        if (_dns is not null) await _dns.DisposeAsync();
        _files.Dispose();
    }

    private string Key(string selector)
    {
        var path = _files.Key(selector, bits: 1024);
        _keyFiles[selector] = path;
        return path;
    }

    /// <summary>opendkim.conf: the lines given, then the socket, PID file, resolver and RequireSafeKeys no.</summary>
    private void Conf(string lines) => _files.WriteConf(lines + $"""

        Socket inet:{_port}@127.0.0.1
        PidFile {_files.Dir}/opendkim.pid
        Nameservers 127.0.0.1@{_dns!.Port}
        RequireSafeKeys no
        """);

    private async Task AssertSameDecisionsAsync(string[] froms, (string Ip, string Name)[]? clients = null)
    {
        var corpus = OpenDkimDifferential.Corpus(Messages, froms, clients ?? Clients);
        var (differences, od, ours) = await OpenDkimDifferential.RunAsync(_files, _port, corpus);
        Assert.True(differences.Count == 0, $"{differences.Count} of {Messages} messages differ:\n" + string.Join("\n", differences.Take(20)));
        Assert.Contains(od, o => o.Signatures.Count > 0);
        Assert.Contains(od, o => o.Signatures.Count == 0);
        var records = OpenDkimDifferential.Records(od.Concat(ours), _keyFiles);
        var failures = await OpenDkimDifferential.VerifyAllAsync(od, records, "opendkim");
        failures.AddRange(await OpenDkimDifferential.VerifyAllAsync(ours, records, "milter"));
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public async Task Debian_default_single_key_config()
    {
        var key = Key("2020");
        Conf($"""
            Syslog			yes
            SyslogSuccess		yes
            Canonicalization	relaxed/simple
            OversignHeaders		From
            Domain			lab.example
            Selector		2020
            KeyFile		{key}
            UMask			007
            """);
        await AssertSameDecisionsAsync(["user@lab.example", "User@LAB.Example", "x@sub.lab.example", "y@other.example", "z@lab.example.org"]);
    }

    [Fact]
    public async Task Key_and_signing_tables_with_refile_wildcards_over_ten_domains()
    {
        var keyTable = string.Join("\n", Enumerable.Range(0, 10).Select(i => $"k{i} d{i}.example:sel{i}:{Key($"sel{i}")}"));
        _files.Write("KeyTable", keyTable + "\n");
        _files.Write("SigningTable", "ceo@d5.example k9\n*@*.d2.example k2\n*d7.example k7\n"
            + string.Join("\n", Enumerable.Range(0, 10).Select(i => $"*@d{i}.example k{i}")) + "\n");
        Conf($"KeyTable file:{_files.Dir}/KeyTable\nSigningTable refile:{_files.Dir}/SigningTable\nCanonicalization relaxed/relaxed\n");
        string[] froms = [.. Enumerable.Range(0, 10).Select(i => $"a{i}@d{i}.example"), "ceo@d5.example", "x@sub.d2.example",
            "q@bad-d7.example", "z@d11.example", "A@D3.EXAMPLE", "m@d2.example.net"];
        await AssertSameDecisionsAsync(froms);
    }

    [Fact]
    public async Task Subdomain_signing()
    {
        var key = Key("subsel");
        Conf($"Domain sub.example,corp.example\nSelector subsel\nKeyFile {key}\nSubDomains yes\n");
        await AssertSameDecisionsAsync(["a@sub.example", "b@x.sub.example", "c@y.x.corp.example", "d@notsub.example", "e@example", "f@corp.example"]);
    }

    [Fact]
    public async Task Third_party_signing_domain()
    {
        _files.Write("KeyTable", $"relay relay.example:relay:{Key("relay")}\nown cust1.example:c1:{Key("c1")}\n");
        _files.Write("SigningTable", "*@cust1.example own\n*@cust2.example relay\n*@*.org relay\n*@cust3.example relay\n");
        Conf($"KeyTable {_files.Dir}/KeyTable\nSigningTable refile:{_files.Dir}/SigningTable\n");
        await AssertSameDecisionsAsync(["a@cust1.example", "b@cust2.example", "c@cust3.example", "d@whatever.org", "e@nomatch.example"]);
    }

    [Fact]
    public async Task Two_keys_per_domain_with_multiple_signatures()
    {
        // Two RSA keys (old and new selector, as in a rotation): OpenDKIM 2.11 signs every key with SignatureAlgorithm, so it
        // cannot add an Ed25519 signature next to an RSA one (README "Moving from OpenDKIM"; milter can).
        _files.Write("KeyTable", $"rsa-a two.example:rsa:{Key("rsa")}\nrsa-b two.example:rsa2:{Key("rsa2")}\n");
        _files.Write("SigningTable", "*@two.example rsa-a\n*@two.example rsa-b\n*@*.two.example rsa-a\n");
        Conf($"KeyTable file:{_files.Dir}/KeyTable\nSigningTable refile:{_files.Dir}/SigningTable\nMultipleSignatures yes\nCanonicalization relaxed/simple\n");
        await AssertSameDecisionsAsync(["a@two.example", "b@x.two.example", "c@three.example"]);
    }

    [Fact]
    public async Task File_signing_table_in_opendkims_lookup_order_with_a_percent_key_name()
    {
        _files.Write("KeyTable", $"kuser f.example:fuser:{Key("fuser")}\nkdom f.example:fdom:{Key("fdom")}\nksub f.example:fsub:{Key("fsub")}\n" +
            $"kany relay.example:fany:{Key("fany")}\ng.example g.example:gsel:{Key("gsel")}\n");
        _files.Write("SigningTable", "admin@* kany\n.f.example ksub\nboss@f.example kuser\nf.example kdom\ng.example %\nboss@.f.example kuser\n");
        Conf($"KeyTable {_files.Dir}/KeyTable\nSigningTable file:{_files.Dir}/SigningTable\n");
        await AssertSameDecisionsAsync(["boss@f.example", "x@f.example", "y@a.f.example", "admin@h.example", "z@g.example", "w@other.example",
            "boss@a.b.f.example", "admin@f.example"]);
    }

    [Fact]
    public async Task Internal_hosts_and_external_ignore_list_with_negation()
    {
        var key = Key("hosts");
        _files.Write("TrustedHosts", "127.0.0.1\n::1\n10.0.0.0/8\n!10.1.1.1\n192.168.0.0/16\n!192.168.5.0/24\n192.168.5.7\n");
        Conf($"Domain lab.example\nSelector hosts\nKeyFile {key}\nInternalHosts refile:{_files.Dir}/TrustedHosts\nExternalIgnoreList refile:{_files.Dir}/TrustedHosts\n");
        (string, string)[] clients =
        [
            ("10.2.3.4", "a.lan"), ("10.1.1.1", "b.lan"), ("192.168.5.7", "c.lan"), ("192.168.5.8", "d.lan"), ("192.168.9.9", "e.lan"),
            ("203.0.113.6", "bad.example"), ("::1", "localhost"), ("127.0.0.1", "localhost"),
        ];
        await AssertSameDecisionsAsync(["u@lab.example", "v@other.example", "w@Lab.Example"], clients);
    }
}
