using System.Security.Cryptography;
using System.Text;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using static Milter.Tests.TestKit.TestMail;

namespace Milter.Tests.TestKit;

/// <summary>All fixtures together: Postfix hands mail to OpenDKIM (a signing milter), the sink receives it,
/// and dkimpy verifies the signature with the key Knot serves.</summary>
public sealed class OpenDkimDaemonTests
{
    [Fact]
    public async Task Postfix_with_opendkim_signs_and_dkimpy_verifies_through_knot()
    {
        using var rsa = RSA.Create(2048);
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("lab.example")
            .Txt("od._domainkey", "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo())));
        await using var opendkim = await OpenDkimDaemon.StartAsync(new OpenDkimOptions
        {
            Domain = "lab.example",
            Selector = "od",
            PrivateKeyPem = rsa.ExportRSAPrivateKeyPem(),
            DnsPort = knot.Port,
        });
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ {opendkim.PostfixMilterSpec}, default_action=tempfail, command_timeout=10s, connect_timeout=5s }}",
        });

        byte[] message = Encoding.ASCII.GetBytes(
            "From: Alice <alice@lab.example>\r\nTo: bob@example.org\r\nSubject: via opendkim\r\n" +
            "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\nMessage-ID: <od@lab.example>\r\n\r\nSigned by OpenDKIM.\r\n");
        var sent = await postfix.SendAsync("alice@lab.example", ["bob@example.org"], message);
        Assert.True(sent.Accepted, sent.Transcript + "\n" + postfix.MaillogTail() + "\n" + opendkim.Output);

        byte[] relayed = SmtpSink.StripSinkHeaders(Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait)));
        Assert.Contains("DKIM-Signature:", Encoding.ASCII.GetString(relayed));
        var verdict = await DkimPy.VerifyAsync(relayed, knot.Port);
        var signature = Assert.Single(verdict.Signatures);
        Assert.True(signature.Pass, verdict.Output);
        Assert.Equal(("lab.example", "od"), (signature.Domain, signature.Selector));
    }

    [Fact]
    public async Task A_bad_configuration_fails_with_opendkims_message()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => OpenDkimDaemon.StartAsync(new OpenDkimOptions
        {
            PrivateKeyPem = "not a key",
            ExtraConfig = "NoSuchOption yes",
        }));
        Assert.Contains("exit code 78", error.Message);
        Assert.Contains("configuration error at line 11: unrecognized parameter", error.Message);
    }
}
