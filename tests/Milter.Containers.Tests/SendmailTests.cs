using System.Net;
using System.Text;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Smtp;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// Sendmail (Debian's sendmail-bin, lab/sendmail) as the MTA in front of the Milter container, with
/// INPUT_MAIL_FILTER pointing at Milter over TCP: the proof that Milter speaks the milter protocol, not only
/// Postfix's dialect. Milter runs from compose.yaml (its `milter` service only) with Signing:InternalHosts
/// holding a host name, mailhost.example.test; the test's mail reaches Sendmail from the network's gateway, and
/// the name Sendmail finds for that address comes from the Sendmail container's /etc/hosts (its only name
/// source), set per test. sendmail.mc also adds {client_resolve} to Milter.macros.connect, as a Sendmail user
/// would; Sendmail ignores that list for a milter that asks for its own macros, as Milter does.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed class SendmailTests(SendmailLab lab, ITestOutputHelper output) : IClassFixture<SendmailLab>
{
    [Fact]
    public async Task Outbound_mail_from_an_internal_host_is_signed_and_verifies_against_knot()
    {
        output.WriteLine(lab.Version);
        await lab.SetGatewayNamesAsync($"{lab.Compose.Gateway} {SendmailLab.InternalName}");
        byte[] relayed = await lab.SendAsync("sendmail outbound", "you@example.test", "someone@example.org", []);

        string headers = await Mail.AssertSignedOnceAsync(relayed, lab.Compose.Dns.Port, await lab.DescribeAsync());
        Assert.Contains($"d={ComposeLab.Domain}", headers);

        // Milter counted the name only because Sendmail said it verified it: {client_resolve}=OK reached Milter at
        // connect (Sendmail's milter trace). Without it, a forged PTR name would count the same (FilterDriver tests).
        string trace = await lab.MilterTraceAsync();
        Assert.True(trace.Contains("milter_send_macros(milter, C): {client_resolve}=OK", StringComparison.Ordinal), trace);
    }

    [Fact]
    public async Task Inbound_mail_gets_authentication_results_and_a_forged_one_is_removed()
    {
        // No name for the gateway: an outside sender ({client_resolve} FAIL, no name to match).
        await lab.SetGatewayNamesAsync("");
        byte[] relayed = await lab.SendSignedWithForgedResultsAsync("sendmail inbound");

        string headers = Mail.Headers(relayed);
        Assert.Equal(1, Mail.Count(headers, "Authentication-Results"));
        Assert.Matches($@"Authentication-Results: {ComposeLab.Hostname};(.|\r\n\s)*dkim=pass", headers);
        Assert.Equal(1, Mail.Count(headers, "DKIM-Signature")); // dkimpy's only
    }
}

/// <summary>The lab for <see cref="SendmailTests"/>: compose's Milter (key, Knot, sink as in ComposeLab) and a
/// Sendmail container on the same network, published on 127.0.0.1.</summary>
public sealed class SendmailLab(LabImages images) : IAsyncLifetime
{
    public const string InternalName = "mailhost.example.test";
    private static readonly TimeSpan Healthy = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Arrive = TimeSpan.FromSeconds(60);
    private const string TraceFile = "/tmp/milter-trace.log";
    private readonly int _port = FreePort.Next();
    private int _sent;

    public ComposeLab Compose { get; private set; } = null!;
    public string Container => Compose.Project + "_sendmail";
    public string Version { get; private set; } = "";

    public async Task InitializeAsync()
    {
        string image = await images.SendmailAsync();
        Compose = await ComposeLab.CreateAsync();
        try
        {
            var up = await Compose.UpAsync(new Dictionary<string, string> { ["INTERNAL_NETWORK"] = InternalName }, "milter");
            up.EnsureSuccess("podman-compose up milter");
            await Compose.WaitHealthyAsync("milter", Healthy);
            string milterAddress = await Podman.OutputAsync("inspect", "--format",
                $"{{{{(index .NetworkSettings.Networks \"{Compose.Network}\").IPAddress}}}}", Compose.Container("milter"));
            // --dns 127.0.0.1: nothing listens there, so a stray DNS query fails at once and never leaves.
            await Podman.OutputAsync("run", "-d", "--pull=never", "--name", Container, "--network", Compose.Network,
                "--hostname", "mx.example.test", "--dns", "127.0.0.1", "-p", $"127.0.0.1:{_port}:25",
                "-e", $"MILTER_SOCKET=inet:8891@{milterAddress}", "-e", $"SMART_HOST_ADDRESS={Compose.Gateway}",
                "-e", $"SMART_HOST_PORT={Compose.Sink.Port}", "-e", "MAIL_HOSTNAME=mx.example.test", "-e", $"SENDMAIL_DEBUG=-D {TraceFile} -d64.10", image);
            if (!await PortProbe.WaitForTcpAsync(new IPEndPoint(IPAddress.Loopback, _port), TimeSpan.FromSeconds(60)))
                throw new InvalidOperationException("Sendmail did not answer on port 25\n" + await Podman.LogsAsync(Container));
            string logs = await Podman.LogsAsync(Container);
            Version = logs.Split('\n').FirstOrDefault(l => l.StartsWith("sendmail ", StringComparison.Ordinal))?.Trim() ?? "sendmail (version not printed)";
            Figures.Add($"Sendmail peer: {Version}");
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Replaces the lines for the gateway in the Sendmail container's /etc/hosts (podman's other lines
    /// stay). Sendmail reads the file at each connection.</summary>
    public async Task SetGatewayNamesAsync(string lines)
    {
        // podman's own line for the gateway (host.containers.internal) goes too: it would be the PTR name.
        string script = $"grep -v -e '{InternalName}' -e '^{Compose.Gateway}[[:space:]]' /etc/hosts > /tmp/hosts; cat /tmp/hosts > /etc/hosts; " +
                        $"printf '%s\\n' '{lines}' >> /etc/hosts";
        (await Podman.RunAsync("exec", Container, "sh", "-c", script)).EnsureSuccess("set /etc/hosts");
    }

    /// <summary>Sendmail's milter trace so far (-d64.10: the options it sent, the macros per command).</summary>
    public async Task<string> MilterTraceAsync() =>
        (await Podman.RunAsync("exec", Container, "cat", TraceFile)).EnsureSuccess("read the milter trace").StdOut;

    /// <summary>Sends one message to Sendmail from the host (it arrives from the network's gateway) and returns
    /// it as relayed to the sink.</summary>
    public async Task<byte[]> SendAsync(string subject, string from, string to, byte[] prefix, Func<byte[], Task<byte[]>>? transform = null)
    {
        byte[] message = Mail.Message(subject, from, to);
        if (transform is not null) message = await transform(message);
        var sent = await SmtpTestClient.SendAsync("127.0.0.1", _port, from, [to], [.. prefix, .. message]);
        Assert.True(sent.Accepted, sent.Transcript + "\n" + await DescribeAsync());
        _sent++;
        IReadOnlyList<byte[]> files;
        try
        {
            files = await Compose.Sink.WaitForMessagesAsync(_sent, Arrive);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + "\n" + await DescribeAsync(), e);
        }
        return files.Select(Mail.Relayed).Single(m => Encoding.UTF8.GetString(m).Contains("Subject: " + subject + "\r\n", StringComparison.Ordinal));
    }

    /// <summary>A message signed by dkimpy with the lab's key, with a forged Authentication-Results in
    /// Milter's authserv-id on top, from outside to a local user.</summary>
    public Task<byte[]> SendSignedWithForgedResultsAsync(string subject) =>
        SendAsync(subject, "sender@example.test", "user@example.org",
            Encoding.ASCII.GetBytes($"Authentication-Results: {ComposeLab.Hostname}; dkim=pass header.d=example.test\r\n"),
            m => DkimPy.SignAsync(m, ComposeLab.Domain, ComposeLab.Selector, Compose.PrivateKeyPem));

    public async Task<string> DescribeAsync() =>
        $"--- {Container} ---\n{(await Podman.LogsAsync(Container)).TrimEnd()}\n{await Compose.DescribeAsync("milter")}";

    public async Task DisposeAsync()
    {
        await Podman.RunAsync("rm", "-f", "-t", "0", Container);
        if (Compose is not null) await Compose.DisposeAsync();
    }
}
