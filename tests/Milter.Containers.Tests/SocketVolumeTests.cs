using System.Net;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Smtp;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// The Unix socket option of docker/README.md (POSTFIX_MILTER: unix:/run/milter/milter.sock over the shared
/// milter-socket volume) when the Postfix container mounts the fresh volume first, as `docker compose up --no-deps
/// postfix` on new volumes does: podman (and Docker) give a fresh named volume the owner and mode of the first
/// image's directory at the mount point, so the Postfix image must have /run/milter as the Milter image has it
/// (uid/gid 10001, 0755), or Milter, uid 10001, cannot make its socket there.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed class SocketVolumeTests(LabImages images, ITestOutputHelper output)
{
    private const string Socket = "unix:/run/milter/milter.sock";
    private static readonly TimeSpan Healthy = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Arrive = TimeSpan.FromSeconds(60);
    private readonly LabImages _images = images;

    [Fact]
    public async Task Postfix_first_on_a_fresh_socket_volume_then_milter_signs_over_the_unix_socket()
    {
        await using var lab = await ComposeLab.CreateAsync();
        lab.PostfixMilter = Socket;
        var created = await lab.CreateContainersAsync(new Dictionary<string, string>(), "milter", "postfix");
        Assert.True(created.Succeeded, created.Describe());

        await Podman.OutputAsync("start", lab.Container("postfix"));
        Assert.True(await PortProbe.WaitForTcpAsync(new IPEndPoint(IPAddress.Loopback, lab.SmtpPort), Healthy),
            "Postfix not listening\n" + await lab.DescribeAsync("postfix"));
        string folder = await Podman.OutputAsync("exec", lab.Container("postfix"), "stat", "-c", "%u:%g %a", "/run/milter");
        output.WriteLine($"/run/milter on the fresh volume, mounted by Postfix first: {folder}");

        await Podman.OutputAsync("start", lab.Container("milter"));
        await lab.WaitHealthyAsync("milter", Healthy);
        // As the Milter image has it (what the volume gets when Milter mounts it first).
        string milterFolder = await Podman.OutputAsync("run", "--rm", "--pull=never", "--network", "none", "--entrypoint", "stat",
            LabImages.Milter, "-c", "%u:%g %a", "/run/milter");
        Assert.Equal("10001:10001 755", milterFolder);
        Assert.Equal(milterFolder, folder);
        Assert.Contains(Socket, await Podman.OutputAsync("exec", lab.Container("postfix"), "postconf", "-h", "smtpd_milters"), StringComparison.Ordinal);

        var sent = await SmtpTestClient.SendAsync("127.0.0.1", lab.SmtpPort, "you@example.test", ["someone@example.org"],
            Mail.Message("compose unix socket, postfix first"));
        Assert.True(sent.Accepted, sent.Transcript + "\n" + await lab.DescribeAllAsync("postfix", "milter"));
        var files = await lab.WaitForMessagesAsync(1, Arrive, "postfix", "milter");
        byte[] relayed = Mail.Relayed(Assert.Single(files));
        await Mail.AssertSignedOnceAsync(relayed, lab.Dns.Port);
        Assert.Contains($"signed={ComposeLab.Domain}/{ComposeLab.Selector}", await Podman.LogsAsync(lab.Container("milter")));
    }
}
