using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Smtp;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// docker/kubernetes/ run as a pod with `podman play kube` (podman 4.3.1, Debian 12), as <see cref="KubeLab"/>
/// describes: both containers, the key from the Secret, the config from the ConfigMap, Milter as uid 10001 on a
/// read-only root filesystem, the probes as written. Mail from the internal network arrives signed once and dkimpy
/// verifies it against Knot; then `podman play kube --down`. What podman 4.3.1 does not do as Kubernetes does is
/// asserted exactly, so a newer podman that fixes it fails here and docker/README.md gets updated.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed class KubeTests(LabImages images, ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Arrive = TimeSpan.FromSeconds(60);

    /// <summary>deployment.yaml's probes of the milter container (checked to be in the file as written).</summary>
    private static readonly string[] ReadinessCommand = ["milter", "health", "--connect", "inet:8891@127.0.0.1", "--timeout-ms", "3000"];
    private static readonly string[] LivenessCommand = ["milter", "health", "--connect", "inet:8891@127.0.0.1", "--timeout-ms", "5000"];

    private readonly LabImages _images = images;

    [Fact]
    public async Task Pod_from_the_manifests_relays_mail_signed_with_the_secret_key_as_uid_10001_on_a_read_only_root()
    {
        await using var lab = await KubeLab.CreateAsync(_images);
        string manifest = KubeLab.Original("deployment.yaml");
        Assert.Contains(YamlList(ReadinessCommand), manifest, StringComparison.Ordinal);
        Assert.Contains(YamlList(LivenessCommand), manifest, StringComparison.Ordinal);
        await lab.CreateKeySecretAsync();

        var clock = Stopwatch.StartNew();
        var play = await lab.PlayAsync(lab.DeploymentFile);
        Assert.True(play.Succeeded, play.Describe());
        var played = clock.Elapsed;
        string milter = lab.Container("milter"), postfix = lab.Container("postfix");

        // podman 4.3.1 drops readinessProbe (only livenessProbe becomes the container's HEALTHCHECK), so the test
        // runs the readiness probes as the kubelet would: the milter exec command, a TCP connect to Postfix's 25.
        var milterReady = await UntilAsync(lab, clock, "milter readiness probe",
            async () => (await Podman.RunAsync(["exec", milter, .. ReadinessCommand])).Succeeded);
        var postfixReady = await UntilAsync(lab, clock, "postfix readiness probe (TCP 25)",
            () => PortProbe.CanConnectAsync(new IPEndPoint(IPAddress.Loopback, lab.SmtpPort), TimeSpan.FromSeconds(1)));
        Figures.Add($"kube pod (podman play kube): play {Figures.Seconds(played)}; play start to milter ready {Figures.Seconds(milterReady)}, " +
                    $"postfix ready {Figures.Seconds(postfixReady)} (readiness probes run by the test every 0.2 s)");
        output.WriteLine($"play {played}, milter ready {milterReady}, postfix ready {postfixReady}");

        await AssertMilterSecurityContextAsync(milter);
        await AssertLivenessProbesAreHealthChecksAsync(milter, postfix);
        await AssertKeyVolumeAsPodmanMountsItAsync(lab);

        var sent = await SmtpTestClient.SendAsync("127.0.0.1", lab.SmtpPort, "you@example.com", ["someone@example.org"],
            Mail.Message("kube relay", "you@example.com"));
        Assert.True(sent.Accepted, sent.Transcript + "\n" + await lab.DescribeAsync());
        byte[] relayed = Mail.Relayed((await WaitForMessagesAsync(lab, 1))[0]);
        string headers = await Mail.AssertSignedOnceAsync(relayed, lab.Net.Dns.Port);
        Assert.Contains($"d={KubeLab.Domain}", headers, StringComparison.Ordinal);
        Assert.Contains($"signed={KubeLab.Domain}/{ComposeLab.Selector}", await Podman.LogsAsync(milter), StringComparison.Ordinal);

        clock.Restart();
        var down = await Podman.RunAsync(KubeLab.PlayTimeout, "play", "kube", "--down", lab.DeploymentFile);
        Assert.True(down.Succeeded, down.Describe());
        Assert.False(await Podman.ExistsAsync("pod", lab.Pod), $"pod {lab.Pod} still exists after play kube --down");
        Figures.Add($"kube pod: play kube --down {Figures.Seconds(clock.Elapsed)}");
    }

    /// <summary>runAsUser/runAsGroup 10001, allowPrivilegeEscalation false and readOnlyRootFilesystem, seen from the
    /// host in /proc of the container's main process (nothing needed in the image).</summary>
    private static async Task AssertMilterSecurityContextAsync(string milter)
    {
        string pid = await Podman.OutputAsync("inspect", "--format", "{{.State.Pid}}", milter);
        string status = await File.ReadAllTextAsync($"/proc/{pid}/status");
        Assert.Contains("Uid:\t10001\t10001\t10001\t10001\n", status, StringComparison.Ordinal);
        Assert.Contains("Gid:\t10001\t10001\t10001\t10001\n", status, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:\t1\n", status, StringComparison.Ordinal);
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...; the root filesystem's line has mount point "/".
        var root = (await File.ReadAllLinesAsync($"/proc/{pid}/mountinfo")).Select(l => l.Split(' ')).Last(f => f[4] == "/");
        Assert.Contains("ro", root[5].Split(','));
        Assert.Equal("true", await Podman.OutputAsync("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", milter));
    }

    /// <summary>podman 4.3.1 turns each livenessProbe into the container's HEALTHCHECK (exec: `CMD-SHELL command ||
    /// exit 1`; periodSeconds, timeoutSeconds, failureThreshold, initialDelaySeconds as interval, timeout, retries,
    /// start period); readinessProbe is dropped. Without systemd podman runs no timers, so the test runs them.</summary>
    private static async Task AssertLivenessProbesAreHealthChecksAsync(string milter, string postfix)
    {
        using var check = JsonDocument.Parse(await Podman.OutputAsync("inspect", "--format", "{{json .Config.Healthcheck}}", milter));
        var health = check.RootElement;
        Assert.Equal(["CMD-SHELL", .. LivenessCommand, "||", "exit", "1"], health.GetProperty("Test").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(TimeSpan.FromSeconds(30), Nanoseconds(health, "Interval"));
        Assert.Equal(TimeSpan.FromSeconds(10), Nanoseconds(health, "Timeout"));
        Assert.Equal(TimeSpan.FromSeconds(20), Nanoseconds(health, "StartPeriod"));
        Assert.Equal(3, health.GetProperty("Retries").GetInt32());
        Assert.Equal("healthy", await Podman.HealthCheckAsync(milter));
        string postfixTest = await Podman.OutputAsync("inspect", "--format", "{{json .Config.Healthcheck.Test}}", postfix);
        Assert.Equal("""["CMD-SHELL","postfix","status","||","exit","1"]""", postfixTest);
        Assert.Equal("healthy", await Podman.HealthCheckAsync(postfix));
    }

    private static TimeSpan Nanoseconds(JsonElement health, string name) =>
        TimeSpan.FromTicks(health.GetProperty(name).GetInt64() / 100);

    /// <summary>The key as podman 4.3.1 mounts the Secret: root:root 0644, where Kubernetes makes it root:10001 0440
    /// (defaultMode, fsGroup: both ignored by podman). Milter accepts either only because the pod sets
    /// Signing:AllowGroupReadableKeys=true, which refuses only world-writable keys.</summary>
    private static async Task AssertKeyVolumeAsPodmanMountsItAsync(KubeLab lab)
    {
        string key = Path.Combine(await Podman.OutputAsync("volume", "inspect", "--format", "{{.Mountpoint}}", lab.SecretName),
            ComposeLab.Selector + ".private");
        await AssertRootOwned0644Async(key);
        Assert.Equal(lab.Net.PrivateKeyPem, await File.ReadAllTextAsync(key));
    }

    /// <summary>Asserts the key file in the Secret's volume is root:root 0644: podman 4.3.1 creates it with os.Create
    /// (0666 less podman's umask, inherited from this process) and sets neither defaultMode nor fsGroup.</summary>
    private static async Task AssertRootOwned0644Async(string path)
    {
        string found = (await ProcessRunner.RunAsync("/usr/bin/stat", ["-c", "%u:%g %04a", path], TimeSpan.FromSeconds(10)))
            .EnsureSuccess("stat").StdOut.Trim();
        Assert.True(found == "0:0 0644", $"{path}: {found}, expected 0:0 0644 (podman 4.3.1 with umask 022)");
    }

    /// <summary>
    /// What podman 4.3.1's `play kube` does unlike Kubernetes with the Secret volume (its source:
    /// pkg/specgen/generate/kube/volume.go, VolumeFromSecret): without `optional` it dereferences a nil pointer; it
    /// writes each `data` value as it stands in the Secret, so a Secret as Kubernetes stores it (base64, what
    /// `kubectl create secret generic --from-file` makes) gives a file of base64 text; it ignores `stringData`,
    /// `defaultMode` and the pod's `fsGroup` (files are root:root 0644). If this fails, podman changed: update
    /// docker/README.md ("Kubernetes") and the manifests' comments.
    /// </summary>
    [Fact]
    public async Task Podman_play_kube_mounts_secrets_unlike_kubernetes_as_docker_readme_documents()
    {
        await using var lab = await KubeLab.CreateAsync(_images);
        string version = await Podman.OutputAsync("--version");

        await lab.CreateKeySecretAsync();
        string withoutOptional = Path.Combine(Path.GetDirectoryName(lab.DeploymentFile)!, "no-optional.yaml");
        await File.WriteAllTextAsync(withoutOptional, KubeLab.Replace(await File.ReadAllTextAsync(lab.DeploymentFile),
            "            optional: false\n", ""));
        var crash = await lab.PlayAsync(withoutOptional, "--start=false");
        Assert.False(crash.Succeeded, $"{version}: played a secret volume without `optional`\n{crash.Describe()}");
        Assert.Contains("nil pointer dereference", crash.StdErr, StringComparison.Ordinal);
        Assert.Contains("VolumeFromSecret", crash.StdErr, StringComparison.Ordinal);
        await Podman.RunAsync("volume", "rm", "-f", lab.ClaimName); // made before the crash
        (await Podman.RunAsync("secret", "rm", lab.SecretName)).EnsureSuccess("podman secret rm");

        // The Secret as `kubectl create secret generic NAME --from-file=s2026.private --dry-run=client -o yaml` writes
        // it, plus a stringData entry, in the same file as the Deployment.
        string pem = lab.Net.PrivateKeyPem;
        string both = Path.Combine(Path.GetDirectoryName(lab.DeploymentFile)!, "with-secret.yaml");
        await File.WriteAllTextAsync(both, $"""
            apiVersion: v1
            kind: Secret
            metadata:
              name: {lab.SecretName}
            data:
              s2026.private: {Convert.ToBase64String(Encoding.ASCII.GetBytes(pem))}
            stringData:
              note.txt: plain text
            ---

            """ + await File.ReadAllTextAsync(lab.DeploymentFile));
        var play = await lab.PlayAsync(both, "--start=false");
        Assert.True(play.Succeeded, play.Describe());
        string volume = await Podman.OutputAsync("volume", "inspect", "--format", "{{.Mountpoint}}", lab.SecretName);
        string key = Path.Combine(volume, "s2026.private");
        Assert.Equal(Convert.ToBase64String(Encoding.ASCII.GetBytes(pem)), await File.ReadAllTextAsync(key));
        Assert.False(File.Exists(Path.Combine(volume, "note.txt")), $"{version} now mounts stringData");
        await AssertRootOwned0644Async(key);
        output.WriteLine($"{version}: secret data mounted base64-encoded, stringData ignored, key file root:root 0644");
        (await Podman.RunAsync(KubeLab.PlayTimeout, "play", "kube", "--down", both)).EnsureSuccess("podman play kube --down");
    }

    /// <summary>A command as deployment.yaml writes it: ["milter", "health", ...].</summary>
    private static string YamlList(string[] command) => "[" + string.Join(", ", command.Select(w => $"\"{w}\"")) + "]";

    /// <summary>Polls <paramref name="ready"/> every 0.2 s; returns <paramref name="clock"/>'s time at the first true.</summary>
    private static async Task<TimeSpan> UntilAsync(KubeLab lab, Stopwatch clock, string what, Func<Task<bool>> ready)
    {
        var deadline = DateTime.UtcNow + Ready;
        while (DateTime.UtcNow < deadline)
        {
            if (await ready()) return clock.Elapsed;
            await Task.Delay(200);
        }
        throw new TimeoutException($"{what} did not pass within {Ready.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s\n{await lab.DescribeAsync()}");
    }

    private static async Task<IReadOnlyList<byte[]>> WaitForMessagesAsync(KubeLab lab, int count)
    {
        try
        {
            return await lab.Net.Sink.WaitForMessagesAsync(count, Arrive);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + "\n" + await lab.DescribeAsync(), e);
        }
    }
}
