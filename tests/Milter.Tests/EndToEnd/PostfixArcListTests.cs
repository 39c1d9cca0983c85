using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using Milter.Tests.Fixtures;

namespace Milter.Tests.EndToEnd;

/// <summary>
/// Issue 17's list scenario with real components: Knot serves origin.example (DKIM key, SPF, DMARC p=reject) and
/// lists.example (the ARC seal key, SPF for the list's bounce address); a "list" Postfix + `milter run` (Arc:Seal)
/// verifies and seals; an "MX" Postfix + `milter run` (DMARC enforcement on) receives from the list.
/// The list manager is the test itself: it takes the origin's message (dkimpy-signed by origin.example), rewrites
/// the Subject and adds a footer, then submits it to the list Postfix as the origin's server (XCLIENT, envelope
/// sender at origin.example). The list's Milter sees the message already changed, so origin.example's DKIM signature
/// fails there, but SPF passes and is aligned: its ARC-Authentication-Results say dmarc=pass. The list Postfix
/// rewrites the envelope sender to its bounce address (sender_canonical_maps, after the Milter saw MAIL FROM) and
/// relays to the MX, where DKIM fails (changed message) and SPF passes for lists.example (not aligned): DMARC fails.
/// A header_checks rewrite in the list Postfix would not do: Postfix's cleanup applies it after the Milter saw (and
/// sealed) the original, so the ARC-Message-Signature would not verify downstream.
/// </summary>
public sealed class PostfixArcListTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const string OriginIp = "192.0.2.25";

    private sealed record Lab(TempDir Dir, KnotDnsServer Dns, string OriginKeyPem, MilterDaemon ListMilter, MilterDaemon MxMilter,
        PostfixInstance Mx, PostfixInstance List) : IAsyncDisposable
    {
        public string Output => $"list milter:\n{ListMilter.Output}\nmx milter:\n{MxMilter.Output}\nlist maillog:\n{List.MaillogTail()}\nmx maillog:\n{Mx.MaillogTail()}";

        public async ValueTask DisposeAsync()
        {
            // Senders first: the list relays to the MX, each Postfix talks to its Milter, all of them to Knot.
            foreach (IAsyncDisposable d in new IAsyncDisposable[] { List, Mx, ListMilter, MxMilter, Dns }) await d.DisposeAsync();
            Dir.Dispose();
        }
    }

    private static async Task<Lab> StartAsync(string[] trustedSealers)
    {
        var dir = new TempDir("arc-list-lab");
        using var originKey = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        using var sealKey = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        var sealKeyFile = dir.File("lists.example.arc.private");
        await File.WriteAllTextAsync(sealKeyFile, sealKey.ExportPkcs8Pem());
        File.SetUnixFileMode(sealKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // The TLD zone too, so the DMARC tree walk's _dmarc.example query gets NXDOMAIN, not REFUSED.
        var dns = await KnotDnsServer.StartAsync(
            new DnsZone("origin.example")
                .Txt("@", "v=spf1 ip4:192.0.2.0/24 -all")
                .Txt("s1._domainkey", originKey.PublicKeyRecord)
                .Txt("_dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@origin.example"),
            new DnsZone("lists.example")
                .Txt("@", "v=spf1 ip4:127.0.0.1 -all")
                .Txt("arc._domainkey", sealKey.PublicKeyRecord),
            new DnsZone("example"));

        var mxPort = FreePort.Next();
        var mxMilter = await StartMilterAsync(dir, "mx", dns.Port, mxPort, new
        {
            AuthservId = "mx.dest.example",
            // The list's Postfix connects from 127.0.0.1: outside mail for the MX, so no internal host is loopback.
            Signing = new { InternalHosts = new[] { "198.51.100.250" } },
            Dmarc = new { Enabled = true, RejectOnFailure = true, TrustedArcSealers = trustedSealers },
        });
        var listPort = FreePort.Next();
        var listMilter = await StartMilterAsync(dir, "list", dns.Port, listPort, new
        {
            AuthservId = "mail.lists.example",
            Signing = new { InternalHosts = new[] { "127.0.0.1" } },
            Dmarc = new { Enabled = true },
            Arc = new { Seal = new { Domain = "lists.example", Selector = "arc", KeyFile = sealKeyFile } },
        });
        var mx = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{mxPort}, default_action=tempfail, command_timeout=10s }}",
        });
        var listOptions = new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{listPort}, default_action=tempfail, command_timeout=10s }}",
            StartSink = false,
            RelayPort = mx.SmtpdPort,
        };
        // A list's bounce address as envelope sender on the way out (VERP-less); the From field stays the author's.
        listOptions.MainCf["sender_canonical_maps"] = "static:list-bounces@lists.example";
        listOptions.MainCf["sender_canonical_classes"] = "envelope_sender";
        var list = await PostfixInstance.StartAsync(listOptions);
        return new Lab(dir, dns, originKey.ExportPkcs8Pem(), listMilter, mxMilter, mx, list);
    }

    private static async Task<MilterDaemon> StartMilterAsync(TempDir dir, string name, int dnsPort, int port, object settings)
    {
        var json = JsonSerializer.SerializeToNode(settings)!.AsObject();
        json["Dns"] = JsonSerializer.SerializeToNode(new { Servers = new[] { $"127.0.0.1:{dnsPort}" }, TimeoutMs = 1000 });
        json["Spf"] = JsonSerializer.SerializeToNode(new { Enabled = true });
        var config = dir.File(name + ".json");
        await File.WriteAllTextAsync(config, json.ToJsonString());
        return await MilterDaemon.StartAsync(["--config", config, "--listen", $"inet:{port}@127.0.0.1"],
            new Dictionary<string, string> { ["MILTER_Reports__DataDirectory"] = dir.Sub(name + "-data") });
    }

    /// <summary>The origin's message, signed by origin.example, as its server sends it to the list.</summary>
    private static async Task<byte[]> OriginMessageAsync(Lab lab)
    {
        var message = Encoding.ASCII.GetBytes(
            "From: Joe <joe@origin.example>\r\nTo: list@lists.example\r\nSubject: meeting notes\r\n" +
            $"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{Guid.NewGuid():N}@origin.example>\r\n\r\nNotes of the meeting.\r\n");
        return await DkimPy.SignAsync(message, "origin.example", "s1", lab.OriginKeyPem);
    }

    /// <summary>What a list manager does: a tag in the Subject and a footer at the end of the body.</summary>
    private static byte[] AsTheListManagerChangesIt(byte[] message)
    {
        var text = Encoding.ASCII.GetString(message).Replace("Subject: meeting notes", "Subject: [team] meeting notes", StringComparison.Ordinal);
        Assert.Contains("[team]", text, StringComparison.Ordinal);
        return Encoding.ASCII.GetBytes(text + "-- \r\nteam mailing list: https://lists.example/team\r\n");
    }

    private static Task<SmtpTransaction> SendThroughTheListAsync(Lab lab, byte[] message) =>
        lab.List.SendAsync("joe@origin.example", ["member@dest.example"], message,
            new XClientAttributes(Addr: OriginIp, Name: "mail.origin.example", Helo: "mail.origin.example"));

    private static string Unfolded(byte[] sinkFile) =>
        MailText.SinkHeaders(sinkFile).Replace("\r\n\t", " ", StringComparison.Ordinal).Replace("\r\n ", " ", StringComparison.Ordinal);

    [Fact]
    public async Task Without_trusted_sealers_the_list_mail_is_rejected_by_the_origins_p_reject()
    {
        await using var lab = await StartAsync([]);
        var sent = await SendThroughTheListAsync(lab, AsTheListManagerChangesIt(await OriginMessageAsync(lab)));
        Assert.True(sent.Accepted, sent.Transcript + "\n" + lab.Output);

        // The MX refuses the list's relay attempt: the list Postfix logs the MX's 550 and bounces.
        var log = await lab.List.WaitForLogAsync("status=bounced", Wait);
        var line = log.Split('\n').First(l => l.Contains("status=bounced", StringComparison.Ordinal));
        Assert.Contains("550 5.7.1", line, StringComparison.Ordinal);
        Assert.Contains("DMARC", line, StringComparison.Ordinal);
        Assert.True(await lab.MxMilter.WaitForOutputAsync("verdict=reject", Wait), lab.Output);
    }

    [Fact]
    public async Task With_the_list_trusted_the_mail_is_delivered_with_arc_pass_and_the_override_is_reported()
    {
        await using var lab = await StartAsync(["lists.example"]);
        var sent = await SendThroughTheListAsync(lab, AsTheListManagerChangesIt(await OriginMessageAsync(lab)));
        Assert.True(sent.Accepted, sent.Transcript + "\n" + lab.Output);

        var delivered = Unfolded(Assert.Single(await lab.Mx.Sink!.WaitForMessagesAsync(1, Wait)));
        Assert.Contains("Subject: [team] meeting notes", delivered, StringComparison.Ordinal);
        var listAar = delivered.Split("\r\n").Single(l => l.StartsWith("ARC-Authentication-Results:", StringComparison.Ordinal));
        Assert.Contains("i=1; mail.lists.example;", listAar, StringComparison.Ordinal);
        Assert.Contains("dkim=fail", listAar, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass", listAar, StringComparison.Ordinal);
        var ar = delivered.Split("\r\n").Single(l => l.StartsWith("Authentication-Results: mx.dest.example;", StringComparison.Ordinal));
        Assert.Contains("arc=pass", ar, StringComparison.Ordinal);
        Assert.Contains("lists.example", ar, StringComparison.Ordinal);
        Assert.Contains("dmarc=fail", ar, StringComparison.Ordinal);
        Assert.Contains("header.from=origin.example policy.dmarc=none", ar, StringComparison.Ordinal);
        Assert.Contains("spf=pass smtp.mailfrom=list-bounces@lists.example", ar, StringComparison.Ordinal);

        var xml = await AggregateReportAsync(lab);
        var reason = Assert.Single(xml.Descendants("reason"));
        Assert.Equal("local_policy", reason.Element("type")?.Value);
        Assert.StartsWith("arc=pass i=1 as[1].d=lists.example aar[1]", reason.Element("comment")?.Value, StringComparison.Ordinal);
        Assert.Equal("none", xml.Descendants("policy_evaluated").Single().Element("disposition")?.Value);
        Assert.Equal("127.0.0.1", xml.Descendants("source_ip").Single().Value);
    }

    /// <summary>origin.example's aggregate report from the MX's report store, built by `milter report`.</summary>
    private static async Task<XDocument> AggregateReportAsync(Lab lab)
    {
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var reports = lab.Dir.Sub("reports");
        var deadline = DateTime.UtcNow + Wait;
        (int Code, string Out, string Err) run;
        do
        {
            await Task.Delay(200);
            run = await MilterDaemon.RunCliAsync(["report", "--from", today, "--to", today, "--out", reports,
                "--data-dir", lab.Dir.Sub("mx-data"), "--org-name", "Dest MX", "--org-email", "dmarc-reports@dest.example"]);
        }
        while (Directory.GetFiles(reports, "*.xml.gz").Length == 0 && DateTime.UtcNow < deadline);
        Assert.True(run.Code == 0, run.Err);
        var report = Assert.Single(Directory.GetFiles(reports, "*.xml.gz"));
        Assert.Contains("!origin.example!", Path.GetFileName(report), StringComparison.Ordinal);
        await using var gz = new GZipStream(File.OpenRead(report), CompressionMode.Decompress);
        var xml = XDocument.Load(gz);
        // The RFC 9990 namespace on every element: compare local names.
        foreach (var e in xml.Descendants()) e.Name = e.Name.LocalName;
        return xml;
    }
}
