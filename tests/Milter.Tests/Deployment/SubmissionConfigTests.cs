using System.Text;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Deployment;

/// <summary>
/// postfix-config/relay/ + submission/ rendered by the entrypoint and run by a real Postfix. No Dovecot here,
/// so SASL runs through Postfix's Cyrus SASL (libsasl2-modules, installed with postfix) with an empty sasldb:
/// enough to show that the submission service starts with these files, offers AUTH on 587 (and not on 25),
/// and refuses unauthenticated mail. A password login is not exercised (that needs a password database:
/// Dovecot or saslpasswd2); an authenticated session is made with XCLIENT LOGIN instead, and its mail is signed.
/// </summary>
public sealed class SubmissionConfigTests
{
    [Fact]
    public async Task Submission_service_offers_auth_only_on_its_own_port_and_refuses_mail_without_it()
    {
        using var sasl = new TempDir("sasl");
        File.WriteAllText(sasl.File("smtpd.conf"),
            $"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {sasl.File("sasldb2")}\n");
        var submissionPort = FreePort.Next();
        var milterPort = FreePort.Next();
        await using var lab = await SigningLab.StartAsync(ed25519: false, internalHosts: ["127.0.0.1"]);
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{milterPort}@127.0.0.1"]);
        var environment = DeployedPostfix.RelayEnvironment(milterPort, roles: "relay submission");
        environment["SUBMISSION_LISTEN"] = $"127.0.0.1:{submissionPort}";
        environment["SUBMISSION_TLS_LEVEL"] = "none"; // no certificates in tests; the container default is encrypt
        environment["SASL_TYPE"] = "cyrus";
        environment["SASL_PATH"] = "smtpd";
        await using var postfix = await DeployedPostfix.StartAsync(environment, new Dictionary<string, string> { ["cyrus_sasl_config_path"] = sasl.Path });

        await using (var submission = await SmtpTestClient.ConnectAsync("127.0.0.1", submissionPort, TimeSpan.FromSeconds(10)))
        {
            var ehlo = await submission.CommandAsync("EHLO client.example.test");
            Assert.Equal(250, ehlo.Code);
            var auth = ehlo.Text.Split('\n').FirstOrDefault(l => l.StartsWith("AUTH ", StringComparison.Ordinal));
            Assert.True(auth is not null && auth.Split(' ').Contains("PLAIN"), ehlo.Text + "\n" + postfix.MaillogTail(60));
            var login = await submission.CommandAsync("AUTH PLAIN " + Convert.ToBase64String("\0alice\0wrong"u8.ToArray()));
            Assert.Equal(535, login.Code);
            Assert.Equal(250, (await submission.CommandAsync("MAIL FROM:<alice@example.test>")).Code);
            var rcpt = await submission.CommandAsync("RCPT TO:<bob@example.org>");
            Assert.Equal(554, rcpt.Code);
        }
        await using (var smtp = await SmtpTestClient.ConnectAsync("127.0.0.1", postfix.SmtpdPort, TimeSpan.FromSeconds(10)))
        {
            var ehlo = await smtp.CommandAsync("EHLO client.example.test");
            Assert.Equal(250, ehlo.Code);
            Assert.DoesNotContain("AUTH", ehlo.Text, StringComparison.Ordinal);
        }
        // An authenticated user from outside: XCLIENT LOGIN sets the SASL login name as a successful AUTH would
        // (Postfix then passes {auth_authen}), so the template's permit_sasl_authenticated lets the mail in and
        // Milter signs it although 192.0.2.20 is not an internal host.
        var user = new XClientAttributes(Addr: "192.0.2.20", Name: "laptop.example.net", Helo: "laptop", Login: "alice");
        var sent = await SmtpTestClient.SendAsync("127.0.0.1", submissionPort, "alice@example.test", ["bob@example.org"],
            RelayConfigTests.Message("submitted"), user);
        Assert.True(sent.Accepted, sent.Transcript + "\n" + postfix.MaillogTail(40));
        var message = SmtpSink.StripSinkHeaders(Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, TimeSpan.FromSeconds(30))));
        var verification = await DkimPy.VerifyAsync(message, lab.Dns.Port);
        Assert.True(verification.Pass, verification.Output + "\n" + Encoding.UTF8.GetString(message));

        // The service's own log tag from the template (-o syslog_name=postfix/submission).
        Assert.Contains("postfix/submission/smtpd", postfix.MaillogTail(200), StringComparison.Ordinal);
    }
}
