using System.Text;
using Milter.TestKit;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Deployment;

/// <summary>postfix-config/inbound/ rendered by the entrypoint and run by a real Postfix with `milter run`: mail
/// from an outside client (claimed with XCLIENT) for an accepted domain gets Milter's Authentication-Results
/// header, is not signed, and goes on to the internal server (the sink, via relay_transport).</summary>
public sealed class InboundConfigTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public static Dictionary<string, string> InboundEnvironment(int milterPort) => new()
    {
        ["POSTFIX_ROLES"] = "inbound",
        ["MYHOSTNAME"] = "mx.example.org",
        ["MYDOMAIN"] = "example.org",
        ["MYNETWORKS"] = "127.0.0.1/32",
        ["RELAY_DOMAINS"] = "example.org",
        ["INTERNAL_MAILHOST"] = "[127.0.0.1]:{SINK_PORT}",
        ["POSTFIX_MILTER"] = $"inet:127.0.0.1:{milterPort}",
        ["SMTPD_LISTEN"] = "127.0.0.1:{SMTPD_PORT}",
    };

    [Fact]
    public async Task External_mail_for_an_accepted_domain_gets_authentication_results_and_no_signature()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false, internalHosts: ["127.0.0.1"]);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        // No relayhost: only relay_transport from the inbound template may carry the mail to the sink.
        await using var postfix = await DeployedPostfix.StartAsync(InboundEnvironment(port), new Dictionary<string, string> { ["relayhost"] = "" });

        var outside = new XClientAttributes(Addr: "192.0.2.10", Name: "mail.sender.example", Helo: "mail.sender.example");
        var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], RelayConfigTests.Message("inbound"), outside);
        Assert.True(sent.Accepted, sent.Transcript + "\n" + daemon.Output);
        var headers = MailText.SinkHeaders(Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait)));
        Assert.Contains($"Authentication-Results: {SigningLab.AuthservId};", headers, StringComparison.Ordinal);
        Assert.DoesNotContain("DKIM-Signature:", headers, StringComparison.Ordinal);

        // Not an open relay: the outside client may not send to a domain that is not in RELAY_DOMAINS.
        var relayed = await postfix.SendAsync("alice@example.test", ["carol@elsewhere.example"], RelayConfigTests.Message("relay attempt"), outside);
        Assert.False(relayed.Accepted, relayed.Transcript);
        Assert.Contains("554 5.7.1", relayed.Transcript, StringComparison.Ordinal);
    }
}
