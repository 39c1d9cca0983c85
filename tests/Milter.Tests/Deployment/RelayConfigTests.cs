using System.Text;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Deployment;

/// <summary>postfix-config/relay/ rendered by the container's entrypoint, run by a real Postfix with `milter run`:
/// internal SMTP mail, sendmail(1) mail and Postfix's own bounces all leave signed, and dkimpy verifies them
/// against the keys in a real DNS server on loopback.</summary>
public sealed class RelayConfigTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    internal static byte[] Message(string subject, string to = "bob@example.org") => Encoding.UTF8.GetBytes(
        $"From: Alice <alice@example.test>\r\nTo: {to}\r\nSubject: {subject}\r\n" +
        $"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{Guid.NewGuid():N}@example.test>\r\n\r\n" +
        "Hello from the relay lab.\r\n");

    private static async Task<(SigningLab Lab, MilterDaemon Daemon, PostfixInstance Postfix)> StartRelayAsync(
        IReadOnlyDictionary<string, string>? testSettings = null)
    {
        var lab = await SigningLab.StartAsync(ed25519: false, internalHosts: ["127.0.0.1"]);
        var port = FreePort.Next();
        var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        var postfix = await DeployedPostfix.StartAsync(DeployedPostfix.RelayEnvironment(port), testSettings);
        return (lab, daemon, postfix);
    }

    private static async Task AssertSignedByLabAsync(byte[] sinkFile, SigningLab lab, string context)
    {
        var message = SmtpSink.StripSinkHeaders(sinkFile);
        var text = Encoding.UTF8.GetString(message);
        var headers = MailText.HeaderBlock(text);
        Assert.True(MailText.CountField(headers, "DKIM-Signature") > 0,
            $"{context}: no DKIM-Signature\n{text}");
        Assert.Contains("d=example.test", headers, StringComparison.Ordinal);
        var verification = await DkimPy.VerifyAsync(message, lab.Dns.Port);
        Assert.True(verification.Pass, $"{context}: dkimpy: {verification.Output}\n{text}");
    }

    [Fact]
    public async Task Internal_smtp_mail_through_the_relay_config_arrives_signed_and_dkimpy_verifies_it()
    {
        var (lab, daemon, postfix) = await StartRelayAsync();
        await using (lab) await using (daemon) await using (postfix)
        {
            var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("relay smtp"));
            Assert.True(sent.Accepted, sent.Transcript + "\n" + daemon.Output);
            var file = Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait));
            await AssertSignedByLabAsync(file, lab, "smtp");
        }
    }

    [Fact]
    public async Task Sendmail_through_the_relay_config_takes_non_smtpd_milters_and_arrives_signed()
    {
        var (lab, daemon, postfix) = await StartRelayAsync();
        await using (lab) await using (daemon) await using (postfix)
        {
            var result = await postfix.SendmailAsync("alice@example.test", ["bob@example.org"], Message("relay sendmail"));
            Assert.True(result.Succeeded, result.Describe());
            var file = Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait, default));
            await AssertSignedByLabAsync(file, lab, "sendmail");
        }
    }

    /// <summary>A bounce Postfix writes itself: mail to an unknown local user (mydestination holds the relay's own
    /// name; the TestKit's local_transport answers 5.1.1, and smtpd is told not to check the recipient first, as
    /// it would for a mailbox that exists at RCPT time but fails at delivery) is returned to alice@example.test through the relayhost.
    /// internal_mail_filter_classes = bounce sends it through non_smtpd_milters, and myorigin = $mydomain makes it
    /// From: MAILER-DAEMON@example.test, which has a key.</summary>
    [Fact]
    public async Task A_bounce_written_by_postfix_is_signed_for_the_relay_domain()
    {
        var (lab, daemon, postfix) = await StartRelayAsync(new Dictionary<string, string> { ["smtpd_reject_unlisted_recipient"] = "no" });
        await using (lab) await using (daemon) await using (postfix)
        {
            var sent = await postfix.SendAsync("alice@example.test", ["nobody@relay.example.test"],
                Message("to bounce", to: "nobody@relay.example.test"));
            Assert.True(sent.Accepted, sent.Transcript);
            var file = Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait));
            var text = Encoding.UTF8.GetString(SmtpSink.StripSinkHeaders(file));
            Assert.True(text.Contains("\r\nFrom: Mail Delivery System <MAILER-DAEMON@example.test>\r\n", StringComparison.Ordinal), text);
            Assert.Contains("Undelivered Mail Returned to Sender", text, StringComparison.Ordinal);
            Assert.Contains("To: alice@example.test", text, StringComparison.Ordinal);
            await AssertSignedByLabAsync(file, lab, "bounce");
        }
    }
}
