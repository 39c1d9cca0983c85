using System.Text;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using Milter.Tests.Fixtures;

namespace Milter.Tests.EndToEnd;

/// <summary>Outbound mail through a real Postfix and `milter run` arrives signed; dkimpy verifies what the sink got
/// with the keys from a real DNS server on loopback.</summary>
public sealed class PostfixSigningTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static byte[] Message(string subject) => Encoding.UTF8.GetBytes(
        "From: Alice <alice@example.test>\r\nTo: bob@example.org\r\n" +
        $"Subject: {subject}\r\n =?utf-8?q?folded_continuation?=\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n" +
        $"Message-ID: <{Guid.NewGuid():N}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
        "Content-Transfer-Encoding: 8bit\r\n\r\n" +
        "Grüße aus dem Labor  \r\n\r\n.a line starting with a dot\r\n  indented line\t\r\n\r\n\r\n");

    private static byte[] Relayed(byte[] file) => SmtpSink.StripSinkHeaders(file);

    [Theory]
    [InlineData("relaxed/relaxed")]
    [InlineData("simple/simple")]
    [InlineData("relaxed/simple")]
    [InlineData("simple/relaxed")]
    public async Task Internal_client_mail_arrives_signed_with_rsa_and_ed25519_and_dkimpy_verifies_it(string canonicalization)
    {
        await using var lab = await SigningLab.StartAsync(canonicalization);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{port}, default_action=tempfail, command_timeout=10s }}",
        });

        var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("signed " + canonicalization));
        Assert.True(sent.Accepted, sent.Transcript + "\n" + daemon.Output);
        var message = Relayed(Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait)));
        var text = Encoding.UTF8.GetString(message);
        Assert.Equal(2, MailText.CountField(MailText.HeaderBlock(text), "DKIM-Signature"));

        var verification = await DkimPy.VerifyAsync(message, lab.Dns.Port);
        Assert.True(verification.Pass, verification.Output + "\n" + text);
        Assert.Equal(2, verification.Signatures.Count);
        Assert.Contains(verification.Signatures, s => s.Selector == "rsa");
        Assert.Contains(verification.Signatures, s => s.Selector == "ed");
        Assert.True(await daemon.WaitForOutputAsync("signed=example.test/rsa/rsa-sha256,example.test/ed/ed25519-sha256", Wait), daemon.Output);

        // One body byte changed after signing: dkimpy must fail both.
        var tampered = (byte[])message.Clone();
        var at = text.IndexOf("Labor", StringComparison.Ordinal);
        tampered[Encoding.UTF8.GetByteCount(text[..at])] = (byte)'l';
        Assert.DoesNotContain((await DkimPy.VerifyAsync(tampered, lab.Dns.Port)).Signatures, s => s.Pass);
    }

    [Fact]
    public async Task External_client_mail_is_not_signed_and_internal_mail_in_the_same_run_is()
    {
        await using var lab = await SigningLab.StartAsync(internalHosts: ["127.0.0.1"]);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{port}, default_action=tempfail, command_timeout=10s }}",
        });

        var external = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("from outside"),
            new XClientAttributes(Addr: "192.0.2.10", Name: "outside.example.net", Helo: "outside.example.net"));
        Assert.True(external.Accepted, external.Transcript);
        var first = Encoding.UTF8.GetString(Relayed(Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait))));
        Assert.DoesNotContain("DKIM-Signature:", first, StringComparison.Ordinal);
        Assert.Contains("Authentication-Results: relay.lab.test;", first, StringComparison.Ordinal);

        var internalSent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("from inside"));
        Assert.True(internalSent.Accepted, internalSent.Transcript);
        var files = await postfix.Sink.WaitForMessagesAsync(2, Wait);
        var second = files.Select(f => Encoding.UTF8.GetString(Relayed(f))).Single(m => m.Contains("from inside", StringComparison.Ordinal));
        Assert.Contains("DKIM-Signature:", second, StringComparison.Ordinal);
    }

}
