using System.Text;
using System.Text.Json;
using Milter.Protocol;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Daemon;

/// <summary>DMARC enforcement options of a real `milter run`, driven through MilterClient from an outside address.</summary>
public sealed class DmarcDaemonTests
{
    private static async Task<(TempDir Dir, KnotDnsServer Dns, MilterDaemon Daemon, int Port)> StartAsync(object dmarc)
    {
        var dir = new TempDir("dmarc-daemon");
        var dns = await KnotDnsServer.StartAsync(
            new DnsZone("quarantined.test").Txt("_dmarc", "v=DMARC1; p=quarantine").Txt("@", "v=spf1 -all"),
            new DnsZone("redirected.test").Txt("_dmarc", "v=DMARC1; p=reject").Txt("@", "v=spf1 redirect=_spf.provider.test"),
            new DnsZone("provider.test").Txt("_spf", "v=spf1 ip4:198.51.100.0/24 -all"),
            new DnsZone("test"));
        var config = dir.File("milter.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            AuthservId = "mx.dmarc.test",
            Dns = new { Servers = new[] { $"127.0.0.1:{dns.Port}" } },
            Dmarc = dmarc,
        }));
        var port = FreePort.Next();
        var daemon = await MilterDaemon.StartAsync(["--config", config, "--listen", $"inet:{port}@127.0.0.1"]);
        return (dir, dns, daemon, port);
    }

    private static Task<TransactionResult> SendAsync(int port, params KeyValuePair<string, string>[] headers)
        => SendAsync(port, "<x@quarantined.test>", headers);

    private static async Task<TransactionResult> SendAsync(int port, string sender, params KeyValuePair<string, string>[] headers)
    {
        await using var client = await MilterClient.ConnectAsync(ListenSpec.Parse($"inet:{port}@127.0.0.1"), TimeSpan.FromSeconds(10));
        await client.NegotiateAsync();
        await client.ConnectAsync("mail.quarantined.test", ConnectFamily.IPv4, 25000, "198.51.100.20");
        await client.HeloAsync("mail.quarantined.test");
        return await client.SendMessageAsync(new MilterTransaction
        {
            Sender = sender,
            Recipients = ["<rcpt@example.org>"],
            Headers = headers.Append(new("Subject", " test")).ToList(),
            Body = Encoding.ASCII.GetBytes("body\r\n"),
        });
    }

    private static KeyValuePair<string, string> From(string value) => new("From", " " + value);

    [Fact]
    public async Task QuarantineOnFailure_puts_a_failing_p_quarantine_message_on_hold_and_records_it()
    {
        var (dir, dns, daemon, port) = await StartAsync(new { QuarantineOnFailure = true });
        try
        {
            var result = await SendAsync(port, From("boss@quarantined.test"));
            Assert.Equal(MilterResponseCode.Continue, result.Reply.Code);
            Assert.Contains(result.Modifications, m => m.Kind == MilterResponseCode.Quarantine);
            var ar = Assert.Single(result.Modifications, m => m.Name == "Authentication-Results").Value!;
            Assert.Contains("dmarc=fail (p=quarantine dis=quarantine)", ar.Replace("\n\t", " ", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.True(await daemon.WaitForOutputAsync("verdict=quarantine", TimeSpan.FromSeconds(10)), daemon.Output);
        }
        finally
        {
            await daemon.DisposeAsync();
            await dns.DisposeAsync();
            dir.Dispose();
        }
    }

    [Fact]
    public async Task By_default_nothing_is_enforced_and_a_message_with_two_From_addresses_gets_dmarc_permerror()
    {
        var (dir, dns, daemon, port) = await StartAsync(new { Enabled = true });
        try
        {
            var failing = await SendAsync(port, From("boss@quarantined.test"));
            Assert.Equal(MilterResponseCode.Continue, failing.Reply.Code);
            Assert.DoesNotContain(failing.Modifications, m => m.Kind == MilterResponseCode.Quarantine);

            var twoAuthors = await SendAsync(port, From("a@quarantined.test, b@example.org"));
            Assert.Equal(MilterResponseCode.Continue, twoAuthors.Reply.Code);
            var ar = Assert.Single(twoAuthors.Modifications, m => m.Name == "Authentication-Results").Value!;
            Assert.Contains("dmarc=permerror", ar, StringComparison.Ordinal);
        }
        finally
        {
            await daemon.DisposeAsync();
            await dns.DisposeAsync();
            dir.Dispose();
        }
    }

    [Fact]
    public async Task Spf_through_a_redirect_aligns_by_the_mail_from_domain_not_the_redirect_target()
    {
        var (dir, dns, daemon, port) = await StartAsync(new { RejectOnFailure = true });
        try
        {
            var result = await SendAsync(port, "<bounce@redirected.test>", From("news@redirected.test"));
            Assert.Equal(MilterResponseCode.Continue, result.Reply.Code);
            var ar = Assert.Single(result.Modifications, m => m.Name == "Authentication-Results").Value!.Replace("\n\t", " ", StringComparison.Ordinal);
            Assert.Contains("spf=pass smtp.mailfrom=bounce@redirected.test", ar, StringComparison.Ordinal);
            Assert.Contains("dmarc=pass", ar, StringComparison.Ordinal);
        }
        finally
        {
            await daemon.DisposeAsync();
            await dns.DisposeAsync();
            dir.Dispose();
        }
    }

    [Fact]
    public async Task RejectInvalidFrom_refuses_a_message_without_exactly_one_author()
    {
        var (dir, dns, daemon, port) = await StartAsync(new { RejectInvalidFrom = true });
        try
        {
            var noFrom = await SendAsync(port);
            Assert.Equal(MilterResponseCode.ReplyCode, noFrom.Reply.Code);
            Assert.StartsWith("550 5.7.1", noFrom.Reply.Text, StringComparison.Ordinal);
            Assert.Contains("no From header", noFrom.Reply.Text, StringComparison.Ordinal);
            var ok = await SendAsync(port, From("boss@quarantined.test"));
            Assert.Equal(MilterResponseCode.Continue, ok.Reply.Code);
        }
        finally
        {
            await daemon.DisposeAsync();
            await dns.DisposeAsync();
            dir.Dispose();
        }
    }

    [Fact]
    public async Task A_spoof_of_a_p_reject_domain_through_an_invalid_a_label_is_rejected()
    {
        // Issue 13 defect 3: From boss@xn--zz.redirected.test (under p=reject) passed From parsing, DNS refused the
        // name, and dmarc=temperror was never enforced: the spoof was delivered.
        var (dir, dns, daemon, port) = await StartAsync(new { RejectOnFailure = true, RejectInvalidFrom = true });
        try
        {
            var spoof = await SendAsync(port, "<x@quarantined.test>", From("boss@xn--zz.redirected.test"));
            Assert.Equal(MilterResponseCode.ReplyCode, spoof.Reply.Code);
            Assert.StartsWith("550 5.7.1", spoof.Reply.Text, StringComparison.Ordinal);
            Assert.Contains("not a valid domain name", spoof.Reply.Text, StringComparison.Ordinal);
        }
        finally
        {
            await daemon.DisposeAsync();
            await dns.DisposeAsync();
            dir.Dispose();
        }
    }

    [Fact]
    public async Task A_from_domain_with_an_invalid_a_label_is_dmarc_permerror_not_temperror()
    {
        var (dir, dns, daemon, port) = await StartAsync(new { Enabled = true });
        try
        {
            var result = await SendAsync(port, "<x@quarantined.test>", From("boss@xn--zz.redirected.test"));
            Assert.Equal(MilterResponseCode.Continue, result.Reply.Code);
            var ar = Assert.Single(result.Modifications, m => m.Name == "Authentication-Results").Value!;
            Assert.Contains("dmarc=permerror", ar, StringComparison.Ordinal);
            Assert.DoesNotContain("temperror", ar, StringComparison.Ordinal);
        }
        finally
        {
            await daemon.DisposeAsync();
            await dns.DisposeAsync();
            dir.Dispose();
        }
    }
}
