using System.Net;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Smtp;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// docker/compose.yaml started with podman-compose as docker/README.md says: Postfix + Milter sidecar, the key
/// made by `milter keygen` in the container, Knot serving the zone. The relay role signs mail from the internal
/// network (dkimpy verifies it against Knot); the inbound role adds Authentication-Results; both containers'
/// HEALTHCHECKs pass; the logs reach `podman logs`.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed class ComposeTests(LabImages images, ITestOutputHelper output)
{
    private static readonly TimeSpan Healthy = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Arrive = TimeSpan.FromSeconds(60);
    private readonly LabImages _images = images;

    [Fact]
    public Task Relay_role_signs_mail_from_the_internal_network_and_logs_to_podman_logs() =>
        RelayChecksAsync(postfixImage: null, "compose relay");

    /// <summary>The same relay checks with docker/postfix/Dockerfile built on Debian trixie (Postfix 3.10), so a
    /// user on a current distribution is covered too.</summary>
    [Fact]
    public async Task Relay_role_on_debian_trixie_postfix_signs_mail_from_the_internal_network()
    {
        string image = await _images.PostfixTrixieAsync();
        await RelayChecksAsync(image, "compose relay (trixie)");
    }

    private async Task RelayChecksAsync(string? postfixImage, string label)
    {
        await using var lab = await ComposeLab.CreateAsync();
        // Polled from before `up`: podman-compose 1.0.3 starts the services one second apart and returns only after
        // the last, so a poll started after `up` would count that second and Postfix's start as Milter's.
        var milterHealthyPoll = lab.WaitHealthyAsync("milter", Healthy);
        var up = await lab.UpWithPostfixImageAsync(new Dictionary<string, string>(), postfixImage, "milter", "postfix");
        Assert.True(up.Succeeded, up.Describe());

        var milterHealthy = await milterHealthyPoll;
        var postfixHealthy = await lab.WaitHealthyAsync("postfix", Healthy);
        string version = await Podman.OutputAsync("exec", lab.Container("postfix"), "postconf", "-h", "mail_version");
        Figures.Add($"{label}: Postfix {version}; milter start to healthy {Figures.Seconds(milterHealthy)}, postfix {Figures.Seconds(postfixHealthy)} (HEALTHCHECK run by the test every 0.2 s)");
        output.WriteLine($"Postfix {version} ({postfixImage ?? LabImages.Postfix}); milter healthy after {milterHealthy}, postfix after {postfixHealthy}");

        // The README's swaks from the host: it arrives from the network's gateway, inside INTERNAL_NETWORK here.
        var sent = await SmtpTestClient.SendAsync("127.0.0.1", lab.SmtpPort, "you@example.test", ["someone@example.org"],
            Mail.Message(label));
        Assert.True(sent.Accepted, sent.Transcript + "\n" + await lab.DescribeAllAsync("postfix", "milter"));

        // The README's quick test: sendmail inside the Postfix container (non_smtpd_milters sign it too).
        var local = await ProcessRunner.RunAsync(Podman.PodmanPath, ["exec", "-i", lab.Container("postfix"), "sendmail", "-t"],
            Podman.CommandTimeout, Mail.Message(label + " sendmail"), workingDirectory: null);
        Assert.True(local.Succeeded, local.Describe());

        var files = await lab.WaitForMessagesAsync(2, Arrive, "postfix", "milter");
        foreach (var relayed in files.Select(Mail.Relayed))
        {
            await Mail.AssertSignedOnceAsync(relayed, lab.Dns.Port);
        }

        string postfixLog = await Podman.LogsAsync(lab.Container("postfix"));
        string milterLog = await Podman.LogsAsync(lab.Container("milter"));
        Assert.Contains("status=sent", postfixLog);
        Assert.Contains($"signed={ComposeLab.Domain}/{ComposeLab.Selector}", milterLog);
        Assert.Equal(2, milterLog.Split('\n').Count(l => l.Contains("message queue=", StringComparison.Ordinal)));
    }

    /// <summary>
    /// compose.yaml's `depends_on: milter: condition: service_healthy` holds Postfix back until Milter is healthy with
    /// Docker Compose; podman-compose 1.0.3 (Debian 12) reads only the service names of `depends_on` and runs Postfix's
    /// container about a second after Milter's, healthy or not. What a user gets when Postfix takes mail while Milter
    /// does not answer, shown here with Milter stopped before Postfix starts: Postfix answers 4xx
    /// (milter_default_action = tempfail), queues and relays nothing; the client's retry once Milter is healthy is
    /// relayed signed once. (Milter's container runs once first, as compose orders it; either order works for the
    /// shared socket volume, see SocketVolumeTests.)
    /// </summary>
    [Fact]
    public async Task Postfix_up_while_milter_is_not_defers_mail_with_4xx_and_relays_the_retry_signed()
    {
        await using var lab = await ComposeLab.CreateAsync();
        var created = await lab.CreateContainersAsync(new Dictionary<string, string>(), "milter", "postfix");
        Assert.True(created.Succeeded, created.Describe());
        await Podman.OutputAsync("start", lab.Container("milter"));
        await lab.WaitHealthyAsync("milter", Healthy);
        await Podman.OutputAsync("stop", "-t", "5", lab.Container("milter"));
        await Podman.OutputAsync("start", lab.Container("postfix"));
        Assert.True(await PortProbe.WaitForTcpAsync(new IPEndPoint(IPAddress.Loopback, lab.SmtpPort), Healthy),
            "Postfix not listening\n" + await lab.DescribeAsync("postfix"));

        byte[] message = Mail.Message("compose before milter");
        var early = await SmtpTestClient.SendAsync("127.0.0.1", lab.SmtpPort, "you@example.test", ["someone@example.org"], message);
        Assert.False(early.Accepted, early.Transcript);
        var refusal = early.Steps.First(s => !s.Reply.IsPositive);
        Assert.True(refusal.Reply.IsTransientFailure, early.Transcript);
        output.WriteLine($"while milter is down: {refusal.Command} -> {refusal.Reply}");
        Assert.StartsWith("exited", await Podman.StateAsync(lab.Container("milter")), StringComparison.Ordinal);
        Assert.Contains("Mail queue is empty", await Podman.OutputAsync("exec", lab.Container("postfix"), "postqueue", "-p"), StringComparison.Ordinal);
        Assert.Equal(0, lab.Sink.MessagesReceived);

        await Podman.OutputAsync("start", lab.Container("milter"));
        await lab.WaitHealthyAsync("milter", Healthy);
        var retry = await SmtpTestClient.SendAsync("127.0.0.1", lab.SmtpPort, "you@example.test", ["someone@example.org"], message);
        Assert.True(retry.Accepted, retry.Transcript + "\n" + await lab.DescribeAllAsync("postfix", "milter"));
        var files = await lab.WaitForMessagesAsync(1, Arrive, "postfix", "milter");
        byte[] relayed = Mail.Relayed(Assert.Single(files));
        await Mail.AssertSignedOnceAsync(relayed, lab.Dns.Port);
    }

    [Fact]
    public async Task Inbound_role_adds_authentication_results_for_mail_from_outside()
    {
        await using var lab = await ComposeLab.CreateAsync();
        var up = await lab.UpAsync(new Dictionary<string, string>
        {
            ["POSTFIX_ROLES"] = "inbound",
            ["RELAY_DOMAINS"] = "example.org",
            ["INTERNAL_MAILHOST"] = $"[{lab.Gateway}]:{lab.Sink.Port}",
            // The host (the network's gateway) is an outside sender here: not internal, not signed.
            ["INTERNAL_NETWORK"] = "192.0.2.0/24",
        }, "milter", "postfix");
        Assert.True(up.Succeeded, up.Describe());
        await lab.WaitHealthyAsync("milter", Healthy);
        await lab.WaitHealthyAsync("postfix", Healthy);

        var signed = await DkimPy.SignAsync(Mail.Message("compose inbound", "sender@example.test", "user@example.org"),
            ComposeLab.Domain, ComposeLab.Selector, lab.PrivateKeyPem);
        var forged = "Authentication-Results: relay.example.test; dkim=pass header.d=example.test\r\n"u8.ToArray();
        var sent = await SmtpTestClient.SendAsync("127.0.0.1", lab.SmtpPort, "sender@example.test", ["user@example.org"],
            [.. forged, .. signed]);
        Assert.True(sent.Accepted, sent.Transcript + "\n" + await lab.DescribeAllAsync("postfix", "milter"));

        var files = await lab.WaitForMessagesAsync(1, Arrive, "postfix", "milter");
        string headers = Mail.Headers(Mail.Relayed(files[0]));
        Assert.Equal(1, Mail.Count(headers, "Authentication-Results"));
        Assert.Matches($@"Authentication-Results: {ComposeLab.Hostname};(.|\r\n\s)*dkim=pass", headers);
        Assert.Equal(1, Mail.Count(headers, "DKIM-Signature")); // dkimpy's, not a second one by Milter
    }
}
