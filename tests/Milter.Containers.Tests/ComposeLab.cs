using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.TestKit.Postfix;

namespace Milter.Containers.Tests;

/// <summary>
/// docker/compose.yaml run with podman-compose as docker/README.md tells a user, in a temp copy of docker/ (so
/// ./keys is the test's), with a project name of its own. The test makes the project's network first
/// (`PROJECT_default`, a free 10.89.N.0/24; compose uses a network that exists) so its gateway is known: Knot
/// (serving the key the container made with `milter keygen`) and smtp-sink (the relayhost) listen on that
/// gateway, reachable from the containers and from nowhere else. Settings go into .env; the one thing the
/// user's compose file cannot take from .env, Milter's DNS server, goes into compose.override.yaml.
/// SMTP ports are published on 127.0.0.1 only.
/// </summary>
public sealed partial class ComposeLab : IAsyncDisposable
{
    public const string Domain = "example.test";
    public const string Selector = "s2026";
    public const string Hostname = "relay.example.test";
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(3);

    private readonly TempDir _dir;
    private readonly List<IAsyncDisposable> _peers = [];
    private string? _anchor;

    private ComposeLab(TempDir dir, string project, string keyDomain)
    {
        _dir = dir;
        Project = project;
        KeyDomain = keyDomain;
    }

    /// <summary>The domain of the key made with keygen and of Knot's zone (MAIL_DOMAIN unless changed).</summary>
    public string KeyDomain { get; }

    public string Project { get; }
    public string Network => Project + "_default";
    public string Subnet { get; private set; } = "";
    public IPAddress Gateway { get; private set; } = IPAddress.None;
    public string ComposeDir => _dir.Sub("docker");
    public string KeysDir => _dir.Sub("docker/keys");
    public KnotDnsServer Dns { get; private set; } = null!;
    public SmtpSink Sink { get; private set; } = null!;
    public int SmtpPort { get; } = FreePort.Next();
    public int StandbySmtpPort { get; } = FreePort.Next();

    /// <summary>The postfix service's POSTFIX_MILTER (set in compose.override.yaml, as docker/README.md tells a user
    /// who wants the Unix socket) when not null; compose.yaml's TCP address otherwise.</summary>
    public string? PostfixMilter { get; set; }

    /// <summary>The TXT record `milter keygen` wrote (the quoted strings joined), as Knot serves it.</summary>
    public string KeyRecord { get; private set; } = "";

    /// <summary>The private key `milter keygen` wrote into ./keys (PEM).</summary>
    public string PrivateKeyPem => File.ReadAllText(Path.Combine(KeysDir, Selector + ".private"));

    public static string ContainerName(string project, string service) => $"{project}_{service}_1";
    public string Container(string service) => ContainerName(Project, service);

    /// <summary>Network, keys (keygen in the container), Knot and the sink; nothing of compose started yet.</summary>
    public static async Task<ComposeLab> CreateAsync(string domain = Domain)
    {
        var lab = new ComposeLab(new TempDir("compose"), "mct" + Guid.NewGuid().ToString("N")[..8], domain);
        try
        {
            await lab.PrepareAsync();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    private async Task PrepareAsync()
    {
        File.Copy(Repo.PathOf("docker/compose.yaml"), Path.Combine(ComposeDir, "compose.yaml"));
        await CreateNetworkAsync();
        // The bridge and its gateway address exist while a container is attached: keep one there until the end.
        _anchor = Project + "_anchor";
        await Podman.OutputAsync("run", "-d", "--pull=never", "--name", _anchor, "--network", Network, LabImages.Debian, "sleep", "infinity");

        // docker/README.md "Start": a key made in the container, owned by the milter user (uid 10001).
        await ProcessRunner.RunAsync("/bin/chown", ["10001", KeysDir], TimeSpan.FromSeconds(10)).ContinueWith(t => t.Result.EnsureSuccess("chown"), TaskScheduler.Default);
        var keygen = await Podman.RunAsync("run", "--rm", "--pull=never", "--network", "none", "-v", $"{KeysDir}:/out",
            LabImages.Milter, "keygen", "--domain", KeyDomain, "--selector", Selector, "--directory", "/out");
        keygen.EnsureSuccess("milter keygen in the container");
        KeyRecord = string.Concat(QuotedString().Matches(File.ReadAllText(Path.Combine(KeysDir, Selector + ".txt")))
            .Select(m => m.Groups[1].Value));

        Dns = await KnotDnsServer.StartAsync([new DnsZone(KeyDomain).Txt(Selector + "._domainkey", KeyRecord)], Gateway);
        _peers.Add(Dns);
        Sink = await SmtpSink.StartAsync(null, countOnly: false, diagnostics: null, port: null, Gateway);
        _peers.Add(Sink);
    }

    private async Task CreateNetworkAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            int n = Random.Shared.Next(100, 250);
            var create = await Podman.RunAsync("network", "create", "--subnet", $"10.89.{n}.0/24", "--gateway", $"10.89.{n}.1", Network);
            if (create.Succeeded)
            {
                Subnet = $"10.89.{n}.0/24";
                Gateway = IPAddress.Parse($"10.89.{n}.1");
                return;
            }
            if (attempt == 5) create.EnsureSuccess("podman network create");
        }
    }

    /// <summary>Writes .env (the README's settings plus <paramref name="settings"/>) and compose.override.yaml,
    /// then `podman-compose up -d` for <paramref name="services"/> (all when empty).</summary>
    public Task<ProcessResult> UpAsync(IReadOnlyDictionary<string, string> settings, params string[] services) =>
        UpWithPostfixImageAsync(settings, postfixImage: null, services);

    /// <summary>As <see cref="UpAsync"/>, with the postfix service's image replaced by <paramref name="postfixImage"/>
    /// in compose.override.yaml when it is given. (Its own name: an overload of UpAsync with a string before the
    /// params array would take a service name for the image.)</summary>
    public Task<ProcessResult> UpWithPostfixImageAsync(IReadOnlyDictionary<string, string> settings, string? postfixImage, params string[] services) =>
        ComposeUpAsync(settings, postfixImage, ["up", "-d", "--no-build", .. services]);

    /// <summary>As <see cref="UpAsync"/> with `--no-start`: the containers are created, none started, so a test can
    /// start them in the order it wants (podman-compose 1.0.3 ignores depends_on conditions anyway). Without -d:
    /// podman-compose 1.0.3 passes it on to `podman create`, which refuses it.</summary>
    public Task<ProcessResult> CreateContainersAsync(IReadOnlyDictionary<string, string> settings, params string[] services) =>
        ComposeUpAsync(settings, postfixImage: null, ["up", "--no-build", "--no-start", .. services]);

    private async Task<ProcessResult> ComposeUpAsync(IReadOnlyDictionary<string, string> settings, string? postfixImage, string[] command)
    {
        var env = new Dictionary<string, string>
        {
            ["MAIL_DOMAIN"] = Domain,
            ["MAIL_HOSTNAME"] = Hostname,
            ["DKIM_SELECTOR"] = Selector,
            ["INTERNAL_NETWORK"] = Subnet,
            ["RELAYHOST"] = $"[{Gateway}]:{Sink.Port}",
            ["SMTP_PORT"] = $"127.0.0.1:{SmtpPort}",
            ["STANDBY_SMTP_PORT"] = $"127.0.0.1:{StandbySmtpPort}",
        };
        foreach (var (key, value) in settings) env[key] = value;
        await File.WriteAllTextAsync(Path.Combine(ComposeDir, ".env"),
            string.Concat(env.Select(kv => $"{kv.Key}={kv.Value}\n")));
        string dnsServer = $"{Gateway}:{Dns.Port}";
        await File.WriteAllTextAsync(Path.Combine(ComposeDir, "compose.override.yaml"), $"""
            # The test's DNS server (Knot on the network's gateway) for both Milter containers.
            services:
              milter:
                environment:
                  MILTER_Dns__Servers__0: "{dnsServer}"
              milter-standby:
                environment:
                  MILTER_Dns__Servers__0: "{dnsServer}"

            """ + (postfixImage is null && PostfixMilter is null ? "" : """
              postfix:

            """) + (postfixImage is null ? "" : $"""
                image: {postfixImage}

            """) + (PostfixMilter is null ? "" : $"""
                environment:
                  POSTFIX_MILTER: "{PostfixMilter}"

            """));
        return await Podman.ComposeAsync(ComposeDir, Project, UpTimeout, command);
    }

    /// <summary>Runs the container's HEALTHCHECK (podman healthcheck run) until it passes; returns the time
    /// from the container's start to the first pass, or throws after <paramref name="timeout"/>.</summary>
    public async Task<TimeSpan> WaitHealthyAsync(string service, TimeSpan timeout)
    {
        string container = Container(service);
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await Podman.HealthCheckAsync(container);
            if (last == "healthy")
            {
                var started = DateTime.Parse(await Podman.OutputAsync("inspect", "--format", "{{.State.StartedAt.Format \"2006-01-02T15:04:05.000000000Z07:00\"}}", container),
                    CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
                return DateTime.UtcNow - started;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{container} not healthy within {timeout.TotalSeconds:0}s: {last}\n{await DescribeAsync(service)}");
    }

    /// <summary>Waits for <paramref name="count"/> messages at the sink; on timeout the exception carries the
    /// state and logs of <paramref name="services"/>.</summary>
    public async Task<IReadOnlyList<byte[]>> WaitForMessagesAsync(int count, TimeSpan timeout, params string[] services)
    {
        try
        {
            return await Sink.WaitForMessagesAsync(count, timeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + "\n" + await DescribeAllAsync(services), e);
        }
    }

    /// <summary>State and logs of a service's container, for failure messages.</summary>
    public async Task<string> DescribeAsync(string service)
    {
        string container = Container(service);
        var state = await Podman.RunAsync("inspect", "--format", "{{.State.Status}} exit={{.State.ExitCode}}", container);
        return $"--- {container}: {state.StdOut.Trim()}{state.StdErr.Trim()} ---\n{(await Podman.LogsAsync(container)).TrimEnd()}";
    }

    public async Task<string> DescribeAllAsync(params string[] services)
    {
        var text = new StringBuilder();
        foreach (string service in services) text.Append(await DescribeAsync(service)).Append('\n');
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await Podman.ComposeAsync(ComposeDir, Project, UpTimeout, "down", "-v", "-t", "2");
        if (_anchor is not null) await Podman.RunAsync("rm", "-f", "-t", "0", _anchor);
        await Podman.RunAsync("network", "rm", "-f", Network);
        foreach (var peer in _peers) await peer.DisposeAsync();
        _dir.Dispose();
    }

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex QuotedString();
}
