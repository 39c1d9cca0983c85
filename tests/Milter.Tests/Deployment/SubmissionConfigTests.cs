using Milter.TestKit;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Deployment;

/// <summary>
/// postfix-config/relay/ + submission/ rendered by the entrypoint and run by a real Postfix. No Dovecot here,
/// so SASL runs through Postfix's Cyrus SASL (libsasl2-modules, installed with postfix) with an empty sasldb:
/// enough to show that the submission service starts with these files, offers AUTH on 587 (and not on 25),
/// and refuses unauthenticated mail; a successful login and the signing of authenticated mail ({auth_type})
/// are not exercised (that needs a password database: Dovecot or saslpasswd2).
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
        await using var lab = await SigningLab.StartAsync(ed25519: false);
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
        // The service's own log tag from the template (-o syslog_name=postfix/submission).
        Assert.Contains("postfix/submission/smtpd", postfix.MaillogTail(200), StringComparison.Ordinal);
    }
}
