using System.Net;
using System.Security.Cryptography;
using DnsClient;
using DnsClient.Protocol;
using Milter.TestKit;
using Milter.TestKit.Dns;

namespace Milter.Tests.TestKit;

public sealed class KnotDnsServerTests : IAsyncLifetime
{
    private static readonly string DkimKeyRecord = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(MakeRsaPublicKey());
    private const string OddTxt = "say \"hi\"; back\\slash; tab\there; caf\u00e9";
    private KnotDnsServer _knot = null!;

    private static byte[] MakeRsaPublicKey()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportSubjectPublicKeyInfo();
    }

    public async Task InitializeAsync()
    {
        var forward = new DnsZone("example.test")
            .A("mail", "192.0.2.10")
            .Aaaa("mail", "2001:db8::10")
            .Mx("@", 10, "mail.example.test.")
            .Txt("sel._domainkey", DkimKeyRecord)
            .Txt("@", "v=spf1 ip4:192.0.2.0/24 -all")
            .Cname("alias", "mail")
            .Txt("odd", OddTxt);
        var labZone = DnsZone.FromText("lab.example", "@ IN TXT \"v=DMARC1; p=none\"\nhost IN A 198.51.100.7\n");
        var reverse = DnsZone.ReverseV4("192.0.2").Ptr(IPAddress.Parse("192.0.2.10"), "mail.example.test.");
        _knot = await KnotDnsServer.StartAsync([forward, labZone, reverse]);
    }

    public async Task DisposeAsync() => await _knot.DisposeAsync();

    private LookupClient Client(IPEndPoint? endPoint = null) =>
        new(new LookupClientOptions(endPoint ?? _knot.EndPoint)
        {
            UseCache = false,
            Recursion = false,
            Timeout = TimeSpan.FromSeconds(2),
            Retries = 0,
        });

    private async Task<string> KdigAsync(string name, string type)
    {
        var result = await ProcessRunner.RunAsync(ProcessRunner.Require("/usr/bin/kdig", "knot-dnsutils"),
            ["@127.0.0.1", "-p", _knot.Port.ToString(), "+short", "+time=2", "+retry=0", name, type],
            TimeSpan.FromSeconds(10));
        result.EnsureSuccess("kdig");
        return result.StdOut.Trim();
    }

    [Fact]
    public void The_long_txt_record_needs_several_strings()
    {
        Assert.True(DkimKeyRecord.Length > 255, DkimKeyRecord);
        var chunks = DnsZone.SplitTxt(DkimKeyRecord);
        Assert.True(chunks.Count >= 2);
        Assert.All(chunks, c => Assert.True(c.Length <= 255));
        Assert.Equal(DkimKeyRecord, string.Concat(chunks));
    }

    [Fact]
    public async Task Kdig_sees_a_mx_ptr_and_the_split_txt()
    {
        Assert.Equal("192.0.2.10", await KdigAsync("mail.example.test", "A"));
        Assert.Equal("10 mail.example.test.", await KdigAsync("example.test", "MX"));
        Assert.Equal("mail.example.test.", await KdigAsync("10.2.0.192.in-addr.arpa", "PTR"));
        Assert.Equal("198.51.100.7", await KdigAsync("host.lab.example", "A"));

        string txt = await KdigAsync("sel._domainkey.example.test", "TXT");
        var strings = txt.Split('"', StringSplitOptions.RemoveEmptyEntries).Where(s => s.Trim().Length > 0).ToList();
        Assert.True(strings.Count >= 2, txt);
        Assert.Equal(DkimKeyRecord, string.Concat(strings));
    }

    [Fact]
    public async Task DnsClient_sees_the_same_records()
    {
        var client = Client();
        var a = await client.QueryAsync("mail.example.test", QueryType.A);
        Assert.Equal(IPAddress.Parse("192.0.2.10"), Assert.Single(a.Answers.ARecords()).Address);

        var aaaa = await client.QueryAsync("mail.example.test", QueryType.AAAA);
        Assert.Equal(IPAddress.Parse("2001:db8::10"), Assert.Single(aaaa.Answers.AaaaRecords()).Address);

        var mx = Assert.Single((await client.QueryAsync("example.test", QueryType.MX)).Answers.MxRecords());
        Assert.Equal(10, mx.Preference);
        Assert.Equal("mail.example.test.", mx.Exchange.Value);

        var ptr = await client.QueryReverseAsync(IPAddress.Parse("192.0.2.10"));
        Assert.Equal("mail.example.test.", Assert.Single(ptr.Answers.PtrRecords()).PtrDomainName.Value);

        var txt = Assert.Single((await client.QueryAsync("sel._domainkey.example.test", QueryType.TXT)).Answers.TxtRecords());
        Assert.True(txt.Text.Count >= 2);
        Assert.Equal(DkimKeyRecord, string.Concat(txt.Text));

        var odd = Assert.Single((await client.QueryAsync("odd.example.test", QueryType.TXT)).Answers.TxtRecords());
        Assert.Equal(OddTxt, string.Concat(odd.Text));

        var cname = await client.QueryAsync("alias.example.test", QueryType.A);
        Assert.Contains(cname.Answers, r => r is CNameRecord c && c.CanonicalName.Value == "mail.example.test.");

        var dmarc = Assert.Single((await client.QueryAsync("lab.example", QueryType.TXT)).Answers.TxtRecords());
        Assert.Equal("v=DMARC1; p=none", string.Concat(dmarc.Text));

        var missing = await client.QueryAsync("nothing.example.test", QueryType.A);
        Assert.Equal(DnsHeaderResponseCode.NotExistentDomain, missing.Header.ResponseCode);
    }

    [Fact]
    public async Task It_answers_on_ipv6_loopback_too_when_the_machine_has_it()
    {
        if (_knot.EndPointV6 is null)
        {
            Assert.False(FreePort.HasIPv6Loopback);
            return;
        }
        var a = await Client(_knot.EndPointV6).QueryAsync("mail.example.test", QueryType.A);
        Assert.Single(a.Answers.ARecords());
    }

    [Fact]
    public async Task A_broken_zone_fails_with_knots_own_error()
    {
        var bad = DnsZone.FromText("broken.test", "www IN A 999.1.2.3\n");
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => KnotDnsServer.StartAsync(bad));
        Assert.Contains("zone-check", error.Message);
        Assert.Contains("broken.test", error.Message);
        Assert.Contains("999.1.2.3", error.Message);
    }

    [Fact]
    public async Task Two_servers_run_side_by_side_on_their_own_ports()
    {
        await using var other = await KnotDnsServer.StartAsync(new DnsZone("other.test").A("x", "192.0.2.99"));
        Assert.NotEqual(_knot.Port, other.Port);
        Assert.NotEqual(_knot.Directory, other.Directory);
        var reply = await Client(other.EndPoint).QueryAsync("x.other.test", QueryType.A);
        Assert.Single(reply.Answers.ARecords());
        var refused = await Client(other.EndPoint).QueryAsync("mail.example.test", QueryType.A);
        Assert.Empty(refused.Answers);
    }

    [Fact]
    public async Task Stop_ends_the_process_and_removes_its_directory()
    {
        var server = await KnotDnsServer.StartAsync(new DnsZone("stop.test").A("x", "192.0.2.1"));
        int pid = server.Pid;
        string dir = server.Directory;
        await server.DisposeAsync();
        Assert.False(Directory.Exists(dir));
        Assert.False(File.Exists($"/proc/{pid}/status") && File.ReadAllText($"/proc/{pid}/status").Contains("knotd"));
        Assert.Null(await DnsProbe.QueryAsync(server.EndPoint, "stop.test", DnsProbe.TypeSoa, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public void A_missing_binary_names_the_debian_package()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ProcessRunner.Require("/usr/sbin/no-such-daemon", "no-such-package"));
        Assert.Contains("no-such-daemon not found", error.Message);
        Assert.Contains("install the Debian package no-such-package (./test.sh does)", error.Message);
    }
}
