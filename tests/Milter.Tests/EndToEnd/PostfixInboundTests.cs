using System.Text;
using System.Text.Json;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using Milter.Tests.Fixtures;

namespace Milter.Tests.EndToEnd;

/// <summary>Inbound mail from an external client (XCLIENT) through a real Postfix: SPF and DKIM results from a real
/// DNS server end up in one Authentication-Results header; SPF enforcement rejects at RCPT when turned on.</summary>
public sealed class PostfixInboundTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const string AuthservId = "mx.inbound.test";

    private sealed class Lab : IAsyncDisposable
    {
        public required TempDir Dir { get; init; }
        public required KnotDnsServer Dns { get; init; }
        public required string RsaPem { get; init; }
        public required string EdSeed { get; init; }
        public required MilterDaemon Daemon { get; init; }
        public required PostfixInstance Postfix { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Postfix.DisposeAsync();
            await Daemon.DisposeAsync();
            await Dns.DisposeAsync();
            Dir.Dispose();
        }
    }

    private static async Task<Lab> StartAsync(object? spfOptions = null, object? dmarcOptions = null)
    {
        var dir = new TempDir("inbound-lab");
        using var rsa = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        using var ed = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var sender = new DnsZone("sender.test")
            .Txt("@", "v=spf1 ip4:192.0.2.0/24 -all")
            .Txt("soft", "v=spf1 ~all")
            .Txt("fail", "v=spf1 -all exp=why.sender.test")
            .Txt("why", "%{i} is not one of %{d}'s senders")
            .Txt("rsa._domainkey", rsa.PublicKeyRecord)
            .Txt("ed._domainkey", ed.PublicKeyRecord)
            .Txt("_dmarc", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@sender.test")
            .Txt("_dmarc.none", "v=DMARC1; p=none");
        // The TLD zone too, so the DMARC tree walk's query for _dmarc.test gets NXDOMAIN as from a real resolver
        // (an authoritative-only server would answer REFUSED for a name outside its zones: a temporary error).
        var dns = await KnotDnsServer.StartAsync(sender, new DnsZone("test"));
        var config = dir.File("milter.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            AuthservId,
            Dns = new { Servers = new[] { $"127.0.0.1:{dns.Port}" }, TimeoutMs = 1000 },
            Signing = new { InternalHosts = new[] { "127.0.0.1" } },
            Spf = spfOptions ?? new { Enabled = true },
            Dmarc = dmarcOptions ?? new { Enabled = true },
            ReportLog = new { Path = dir.File("verification.jsonl") },
        }));
        var port = FreePort.Next();
        var daemon = await MilterDaemon.StartAsync(["--config", config, "--listen", $"inet:{port}@127.0.0.1"],
            new Dictionary<string, string> { ["MILTER_Reports__DataDirectory"] = dir.Sub("data") });
        var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{port}, default_action=tempfail, command_timeout=10s }}",
        });
        return new Lab
        {
            Dir = dir, Dns = dns, Daemon = daemon, Postfix = postfix,
            RsaPem = rsa.ExportPkcs8Pem(), EdSeed = ed.ExportPkcs8Pem(),
        };
    }

    private static byte[] Message(string from, string subject, string extra = "") => Encoding.ASCII.GetBytes(
        $"From: {from}\r\nTo: rcpt@example.org\r\nSubject: {subject}\r\n{extra}Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n" +
        $"Message-ID: <{Guid.NewGuid():N}@sender.test>\r\n\r\nHello from outside\r\n");

    private static XClientAttributes Outside(string ip = "192.0.2.25") => new(Addr: ip, Name: "mail.sender.test", Helo: "mail.sender.test");

    private static string Headers(byte[] file) => MailText.SinkHeaders(file);

    /// <summary>The one Authentication-Results header with our id, unfolded.</summary>
    private static string OurAuthResults(string headers)
    {
        var unfolded = headers.Replace("\r\n\t", " ", StringComparison.Ordinal).Replace("\r\n ", " ", StringComparison.Ordinal);
        var ours = unfolded.Split("\r\n").Where(l => l.StartsWith($"Authentication-Results: {AuthservId};", StringComparison.Ordinal)).ToList();
        return Assert.Single(ours);
    }

    [Fact]
    public async Task Signed_mail_from_an_authorised_server_gets_spf_pass_and_dkim_pass_for_both_signatures()
    {
        await using var lab = await StartAsync();
        var message = Message("Sender <news@sender.test>", "signed inbound");
        message = await DkimPy.SignAsync(message, "sender.test", "rsa", lab.RsaPem);
        message = await DkimPy.SignAsync(message, "sender.test", "ed",
            Convert.ToBase64String(Ed25519Seed(lab.EdSeed)), algorithm: "ed25519-sha256");
        var forged = Encoding.ASCII.GetBytes($"Authentication-Results: {AuthservId}; dkim=pass header.d=paypal.example\r\n");
        var sent = await lab.Postfix.SendAsync("bounce@sender.test", ["rcpt@example.org"], [.. forged, .. message], Outside());
        Assert.True(sent.Accepted, sent.Transcript + "\n" + lab.Daemon.Output);

        var headers = Headers(Assert.Single(await lab.Postfix.Sink!.WaitForMessagesAsync(1, Wait)));
        var ar = OurAuthResults(headers);
        Assert.Contains("spf=pass smtp.mailfrom=bounce@sender.test smtp.helo=mail.sender.test", ar, StringComparison.Ordinal);
        Assert.Contains("dkim=pass header.d=sender.test header.i=@sender.test header.s=rsa header.a=rsa-sha256", ar, StringComparison.Ordinal);
        Assert.Contains("header.s=ed header.a=ed25519-sha256", ar, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass (p=reject dis=none) header.from=sender.test policy.dmarc=reject", ar, StringComparison.Ordinal);
        Assert.DoesNotContain("paypal", headers, StringComparison.Ordinal);
        Assert.True(headers.StartsWith("Authentication-Results:", StringComparison.Ordinal)
                    || headers.Split("\r\n")[1].StartsWith("Authentication-Results:", StringComparison.Ordinal), headers);

        var log = await WaitForLogLineAsync(lab.Dir.File("verification.jsonl"));
        using var json = JsonDocument.Parse(log);
        Assert.Equal("pass", json.RootElement.GetProperty("spf").GetProperty("result").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("dkim").GetArrayLength());
        Assert.Equal("192.0.2.25", json.RootElement.GetProperty("clientAddress").GetString());

        // The evaluation reached the DMARC report store: `milter report` builds sender.test's aggregate report from it.
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var reports = lab.Dir.Sub("reports");
        var deadline = DateTime.UtcNow + Wait;
        (int Code, string Out, string Err) run;
        do
        {
            await Task.Delay(200);
            run = await MilterDaemon.RunCliAsync(["report", "--from", today, "--to", today, "--out", reports, "--data-dir", lab.Dir.Sub("data"),
                "--org-name", "Inbound Test", "--org-email", "dmarc-reports@inbound.test"]);
        }
        while (Directory.GetFiles(reports, "*.xml.gz").Length == 0 && DateTime.UtcNow < deadline);
        var report = Assert.Single(Directory.GetFiles(reports, "*.xml.gz"));
        Assert.Contains("!sender.test!", Path.GetFileName(report), StringComparison.Ordinal);
        await using var gz = new System.IO.Compression.GZipStream(File.OpenRead(report), System.IO.Compression.CompressionMode.Decompress);
        var xml = System.Xml.Linq.XDocument.Load(gz).ToString();
        Assert.Contains("192.0.2.25", xml, StringComparison.Ordinal);
        Assert.Contains("<count>1</count>", xml, StringComparison.Ordinal);
        Assert.True(run.Code == 0, run.Err);
    }

    /// <summary>Issue 13: header fields past the filter's storage cap (1,000 fields) still count.</summary>
    [Fact]
    public async Task Past_the_header_cap_a_forged_AuthResults_is_removed_and_inbound_mail_with_two_From_is_refused()
    {
        await using var lab = await StartAsync();
        var fillers = string.Concat(Enumerable.Range(1, 1100).Select(i => $"X-Filler-{i}: x\r\n")); // about 20 KB
        var forged = $"Authentication-Results: {AuthservId}; dkim=pass header.d=bank.example; dmarc=pass\r\n";
        const string other = "Authentication-Results: other.example.org; spf=pass smtp.mailfrom=kept.example\r\n";

        // From an internal host (outbound, no key for sender.test): passed on, the forgery past the cap removed, the other id kept.
        var outbound = await lab.Postfix.SendAsync("user@sender.test", ["rcpt@example.org"],
            Message("user@sender.test", "outbound past the cap", fillers + other + forged));
        Assert.True(outbound.Accepted, outbound.Transcript + "\n" + lab.Daemon.Output);
        var headers = Headers(Assert.Single(await lab.Postfix.Sink!.WaitForMessagesAsync(1, Wait)));
        Assert.Contains("X-Filler-1100: x", headers, StringComparison.Ordinal);
        Assert.DoesNotContain("bank.example", headers, StringComparison.Ordinal);
        Assert.Contains("other.example.org; spf=pass smtp.mailfrom=kept.example", headers, StringComparison.Ordinal);
        Assert.Equal($"Authentication-Results: {AuthservId}; none", OurAuthResults(headers));

        // From outside: a second From and a forged dmarc=pass past the cap. Not evaluated on a partial view: refused (the default).
        var inbound = await lab.Postfix.SendAsync("bounce@sender.test", ["rcpt@example.org"],
            Message("news@sender.test", "inbound past the cap", fillers + forged + "From: boss@bank.example\r\n"), Outside());
        Assert.False(inbound.Accepted, inbound.Transcript);
        Assert.Equal(552, inbound.DataReply!.Code);
        Assert.Contains("5.3.4", inbound.DataReply.Text, StringComparison.Ordinal);
        Assert.Single(await lab.Postfix.Sink.WaitForMessagesAsync(1, Wait));
    }

    [Fact]
    public async Task Tampered_and_unsigned_mail_and_spf_fail_and_softfail_are_recorded_not_rejected_by_default()
    {
        await using var lab = await StartAsync();
        var signed = await DkimPy.SignAsync(Message("news@sender.test", "tampered"), "sender.test", "rsa", lab.RsaPem);
        var text = Encoding.ASCII.GetString(signed).Replace("Hello from outside", "Hello from 0utside", StringComparison.Ordinal);
        Assert.True((await lab.Postfix.SendAsync("a@sender.test", ["rcpt@example.org"], Encoding.ASCII.GetBytes(text), Outside())).Accepted);
        Assert.True((await lab.Postfix.SendAsync("a@fail.sender.test", ["rcpt@example.org"], Message("x@fail.sender.test", "spf fail"), Outside())).Accepted);
        Assert.True((await lab.Postfix.SendAsync("a@soft.sender.test", ["rcpt@example.org"], Message("x@soft.sender.test", "spf soft"), Outside())).Accepted);
        Assert.True((await lab.Postfix.SendAsync("a@sender.test", ["rcpt@example.org"], Message("x@sender.test", "wrong ip"), Outside("198.51.100.7"))).Accepted);

        var all = (await lab.Postfix.Sink!.WaitForMessagesAsync(4, Wait)).Select(Headers).ToList();
        string Ar(string subject) => OurAuthResults(all.Single(h => h.Contains("Subject: " + subject, StringComparison.Ordinal)));
        Assert.Contains("dkim=fail reason=\"body hash did not verify\" header.d=sender.test", Ar("tampered"), StringComparison.Ordinal);
        Assert.Contains("spf=fail", Ar("spf fail"), StringComparison.Ordinal);
        Assert.Contains("dkim=none", Ar("spf fail"), StringComparison.Ordinal);
        Assert.Contains("spf=softfail", Ar("spf soft"), StringComparison.Ordinal);
        // fail.sender.test has no record of its own: the walk finds sender.test's, whose sp= applies.
        var failAr = Ar("spf fail");
        Assert.True(failAr.Contains("dmarc=fail (sp=quarantine dis=quarantine) header.from=fail.sender.test policy.dmarc=quarantine", StringComparison.Ordinal), failAr);
        Assert.Contains("dmarc=fail (p=reject dis=reject) header.from=sender.test policy.dmarc=reject", Ar("wrong ip"), StringComparison.Ordinal);
        Assert.Contains("spf=fail", Ar("wrong ip"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_RejectOnFail_an_spf_fail_is_refused_at_rcpt_with_the_domain_explanation()
    {
        await using var lab = await StartAsync(new { Enabled = true, RejectOnFail = true, AddReceivedSpfHeader = true });
        var refused = await lab.Postfix.SendAsync("a@fail.sender.test", ["rcpt@example.org"], Message("x@fail.sender.test", "refused"), Outside());
        Assert.False(refused.Accepted, refused.Transcript);
        var rcpt = refused.ReplyTo("RCPT")!;
        Assert.Equal(550, rcpt.Code);
        Assert.Contains("5.7.23", rcpt.Text, StringComparison.Ordinal);
        Assert.Contains("192.0.2.25 is not one of fail.sender.test's senders", rcpt.Text, StringComparison.Ordinal);

        var ok = await lab.Postfix.SendAsync("a@sender.test", ["rcpt@example.org"], Message("x@sender.test", "accepted"), Outside());
        Assert.True(ok.Accepted, ok.Transcript);
        var headers = Headers(Assert.Single(await lab.Postfix.Sink!.WaitForMessagesAsync(1, Wait)));
        Assert.Contains("Received-SPF: pass", headers, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_RejectOnFailure_a_p_reject_domain_failing_dkim_and_spf_gets_550_while_aligned_mail_passes()
    {
        await using var lab = await StartAsync(dmarcOptions: new { Enabled = true, RejectOnFailure = true });
        var refused = await lab.Postfix.SendAsync("a@sender.test", ["rcpt@example.org"], Message("Boss <boss@sender.test>", "forged boss"), Outside("198.51.100.9"));
        Assert.False(refused.Accepted, refused.Transcript);
        Assert.Equal(550, refused.DataReply!.Code);
        Assert.Contains("5.7.1", refused.DataReply.Text, StringComparison.Ordinal);
        Assert.Contains("DMARC policy of sender.test", refused.DataReply.Text, StringComparison.Ordinal);

        // Same outside address, but DKIM-signed by sender.test: aligned, so DMARC passes and the mail is delivered.
        var signed = await DkimPy.SignAsync(Message("Boss <boss@sender.test>", "signed boss"), "sender.test", "rsa", lab.RsaPem);
        var accepted = await lab.Postfix.SendAsync("a@sender.test", ["rcpt@example.org"], signed, Outside("198.51.100.9"));
        Assert.True(accepted.Accepted, accepted.Transcript + "\n" + lab.Daemon.Output);
        // p=none never rejects.
        var monitored = await lab.Postfix.SendAsync("a@none.sender.test", ["rcpt@example.org"], Message("x@none.sender.test", "p none"), Outside("198.51.100.9"));
        Assert.True(monitored.Accepted, monitored.Transcript);
        var all = (await lab.Postfix.Sink!.WaitForMessagesAsync(2, Wait)).Select(Headers).ToList();
        Assert.Contains("dmarc=pass", OurAuthResults(all.Single(h => h.Contains("signed boss", StringComparison.Ordinal))), StringComparison.Ordinal);
        Assert.Contains("dmarc=fail (p=none dis=none)", OurAuthResults(all.Single(h => h.Contains("p none", StringComparison.Ordinal))), StringComparison.Ordinal);
        Assert.True(await lab.Daemon.WaitForOutputAsync("verdict=reject", Wait), lab.Daemon.Output);
    }

    private static async Task<string> WaitForLogLineAsync(string path)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path))
            {
                var lines = await File.ReadAllLinesAsync(path);
                if (lines.Length > 0 && lines[0].Length > 0) return lines[0];
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"no line in {path}");
    }

    private static byte[] Ed25519Seed(string pkcs8Pem)
    {
        // PKCS#8 Ed25519: the last 32 bytes of the DER are the seed (RFC 8410).
        var der = Convert.FromBase64String(string.Concat(pkcs8Pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))).Trim());
        return der[^32..];
    }
}
