using System.Text;
using System.Text.Json;
using Milter.TestKit;

namespace Milter.Containers.Tests;

/// <summary>
/// docker/kubernetes/ (config.yaml and deployment.yaml) run with `podman play kube --configmap config.yaml
/// deployment.yaml`, the podman form of `kubectl apply -f config.yaml -f deployment.yaml`. The network, the key
/// (`milter keygen` in the container), Knot (serving example.com, the domain config.yaml signs for) and the sink
/// come from <see cref="ComposeLab"/>; compose itself is not started. The manifests are copied with only these
/// test substitutions, each of which must match the file as it is: the images (the tags LabImages built), unique
/// names for the Deployment, Secret, ConfigMap and claim (podman names volumes and secrets host-wide), the relay
/// host (the sink), Milter's DNS server (Knot) and a hostPort on 127.0.0.1 for Postfix's port 25.
/// The Secret milter-keys: see <see cref="CreateKeySecretAsync"/>.
/// </summary>
public sealed class KubeLab : IAsyncDisposable
{
    public const string Domain = "example.com";
    public static readonly TimeSpan PlayTimeout = TimeSpan.FromMinutes(2);
    private readonly TempDir _dir = new("kube");

    private KubeLab(ComposeLab net) => Net = net;

    public ComposeLab Net { get; }

    /// <summary>The unique name used for the Deployment and as the prefix of the Secret, ConfigMap and claim.</summary>
    public string Name => Net.Project;
    public string SecretName => Name + "-keys";
    public string ConfigMapName => Name + "-config";
    public string ClaimName => Name + "-data";

    /// <summary>podman names a Deployment's pods DEPLOYMENT-pod-N and their containers POD-CONTAINER.</summary>
    public string Pod => Name + "-pod-0";
    public string Container(string name) => $"{Pod}-{name}";

    public int SmtpPort { get; } = FreePort.Next();
    public string ConfigFile => _dir.File("config.yaml");
    public string DeploymentFile => _dir.File("deployment.yaml");

    public static async Task<KubeLab> CreateAsync(LabImages images)
    {
        var lab = new KubeLab(await ComposeLab.CreateAsync(Domain));
        try
        {
            lab.WriteManifests(images);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>The manifests as the repository has them.</summary>
    public static string Original(string file) => File.ReadAllText(Repo.PathOf("docker/kubernetes/" + file));

    private void WriteManifests(LabImages images)
    {
        File.WriteAllText(ConfigFile, Replace(Original("config.yaml"), "name: milter-config", "name: " + ConfigMapName));
        string deployment = Replace(Original("deployment.yaml"), "name: milter-config", "name: " + ConfigMapName);
        deployment = Replace(deployment, "secretName: milter-keys", "secretName: " + SecretName);
        deployment = Replace(deployment, "name: milter-data", "name: " + ClaimName);
        deployment = Replace(deployment, "claimName: milter-data", "claimName: " + ClaimName);
        deployment = Replace(deployment, "  name: mail-relay\n", $"  name: {Name}\n", count: 0); // the Deployment and the Service
        deployment = Replace(deployment, "registry.example.com/mail/milter:1.0.0", images.MilterTag);
        deployment = Replace(deployment, "registry.example.com/mail/milter-postfix:1.0.0", images.PostfixTag);
        deployment = Replace(deployment, """
                        - name: RELAYHOST
                          value: ""
            """, $"""
                        - name: RELAYHOST
                          value: "[{Net.Gateway}]:{Net.Sink.Port}"
            """);
        deployment = Replace(deployment, """
                        - name: MILTER_AuthservId
            """, $"""
                        - name: MILTER_Dns__Servers__0
                          value: "{Net.Gateway}:{Net.Dns.Port}"
                        - name: MILTER_AuthservId
            """);
        deployment = Replace(deployment, """
                          containerPort: 25
            """, $"""
                          containerPort: 25
                          hostIP: 127.0.0.1
                          hostPort: {SmtpPort}
            """);
        File.WriteAllText(DeploymentFile, deployment);
    }

    /// <summary>Replaces <paramref name="from"/>, which must occur (exactly once unless <paramref name="count"/> is 0,
    /// meaning at least once): a manifest that changed under the test fails here, not somewhere obscure.</summary>
    public static string Replace(string text, string from, string to, int count = 1)
    {
        text = text.ReplaceLineEndings("\n");
        from = from.ReplaceLineEndings("\n");
        int found = text.Split(from).Length - 1;
        if (found == 0 || (count > 0 && found != count))
            throw new InvalidOperationException($"docker/kubernetes changed: expected {(count > 0 ? count.ToString(System.Globalization.CultureInfo.InvariantCulture) : "at least one")} `{from}`, found {found}");
        return text.Replace(from, to.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    /// <summary>
    /// The Secret `kubectl create secret generic milter-keys --from-file=s2026.private` makes, in the form podman
    /// 4.3.1 reads: a Secret manifest stored with `podman secret create`, whose `data` holds the PEM itself. A
    /// Kubernetes Secret's `data` is base64, and podman 4.3.1 mounts those values still encoded (and ignores
    /// `stringData`); <see cref="KubeTests"/> asserts that, docker/README.md "Kubernetes" has the details.
    /// </summary>
    public async Task CreateKeySecretAsync()
    {
        var secret = new Dictionary<string, object>
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new Dictionary<string, string> { ["name"] = SecretName },
            ["data"] = new Dictionary<string, string> { [ComposeLab.Selector + ".private"] = Net.PrivateKeyPem },
        };
        string file = _dir.File("secret.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(secret));
        try
        {
            (await Podman.RunAsync("secret", "create", SecretName, file)).EnsureSuccess("podman secret create");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>`podman play kube --network NET --configmap config.yaml FILE`, plus <paramref name="extra"/>.</summary>
    public Task<ProcessResult> PlayAsync(string deploymentFile, params string[] extra) =>
        Podman.RunAsync(PlayTimeout, ["play", "kube", "--network", Net.Network, .. extra, "--configmap", ConfigFile, deploymentFile]);

    /// <summary>State and logs of the pod's containers, for failure messages.</summary>
    public async Task<string> DescribeAsync()
    {
        var text = new StringBuilder();
        foreach (string name in new[] { "milter", "postfix" })
        {
            string container = Container(name);
            var state = await Podman.RunAsync("inspect", "--format", "{{.State.Status}} exit={{.State.ExitCode}}", container);
            text.Append($"--- {container}: {state.StdOut.Trim()}{state.StdErr.Trim()} ---\n{(await Podman.LogsAsync(container)).TrimEnd()}\n");
        }
        return text.ToString();
    }

    /// <summary>Removes what `play kube --down` leaves: podman keeps the claim's, ConfigMap's and Secret's volumes and
    /// the secret (as a cluster keeps a claim and a Secret when a Deployment is deleted). All by name.</summary>
    public async ValueTask DisposeAsync()
    {
        await Podman.RunAsync("pod", "rm", "-f", "-t", "0", Pod);
        foreach (string volume in new[] { ClaimName, ConfigMapName, SecretName })
            await Podman.RunAsync("volume", "rm", "-f", volume);
        await Podman.RunAsync("secret", "rm", SecretName);
        _dir.Dispose();
        await Net.DisposeAsync();
    }
}
