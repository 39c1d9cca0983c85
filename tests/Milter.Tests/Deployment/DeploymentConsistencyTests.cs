using System.Globalization;
using System.Text.RegularExpressions;
using Milter.Configuration;
using Milter.Protocol.Server;
using Milter.TestKit;
using Milter.Tests.Fixtures;
using static Milter.Tests.Deployment.ComposeYaml;

namespace Milter.Tests.Deployment;

/// <summary>
/// No Docker engine runs here, so the files in docker/ are checked against the code instead: every MILTER_
/// variable binds to a real option (MILTER_ + "__" between levels) and the result validates; every port,
/// path and volume agrees with the config Milter reads; the health-check commands are run for real
/// against `milter run`.
/// </summary>
public sealed partial class DeploymentConsistencyTests
{
    private const string KeysDir = "/etc/milter/keys";
    private const string DataDir = "/var/lib/milter";
    private const string SocketDir = "/run/milter";

    private static readonly DockerfileReader MilterImage = new(RepoFiles.Read("docker/Dockerfile"));
    private static readonly DockerfileReader PostfixImage = new(RepoFiles.Read("docker/postfix/Dockerfile"));

    /// <summary>Milter's config as the container sees it: a config file, then the MILTER_ variables.</summary>
    private static MilterOptions LoadAsContainer(string configFile, IEnumerable<KeyValuePair<string, string>> environment)
    {
        var overrides = new Dictionary<string, string?>();
        foreach (var (name, value) in environment.Where(e => e.Key.StartsWith(ConfigLoader.EnvironmentPrefix, StringComparison.Ordinal)))
            overrides[name[ConfigLoader.EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)] = value;
        var options = ConfigLoader.Bind(ConfigLoader.BuildConfiguration(configFile, overrides, environment: false));
        ConfigLoader.ApplyDefaults(options);
        ConfigLoader.Validate(options);
        return options;
    }

    private static int InetPort(MilterOptions options)
    {
        var inet = options.Listen!.Select(l => Parse(l)).Where(s => s.Kind != ListenKind.Unix).ToList();
        return Assert.Single(inet.Select(s => s.Port).Distinct());
    }

    private static ListenSpec Parse(string spec)
    {
        Assert.True(ListenSpec.TryParse(spec, out var parsed, out var error), $"{spec}: {error}");
        return parsed!;
    }

    private static void AssertUnder(string directory, string? path, string what)
    {
        Assert.False(string.IsNullOrEmpty(path), what + " is empty");
        Assert.True(path!.StartsWith(directory + "/", StringComparison.Ordinal), $"{what} {path} is not under {directory}");
    }

    /// <summary>The options one MILTER_* container reads, checked against the image's volumes.</summary>
    private static void AssertPathsOnVolumes(MilterOptions options, IReadOnlyCollection<string> mountedDirs)
    {
        foreach (var key in options.Signing.Keys!) AssertUnder(KeysDir, key.KeyFile, "Signing:Keys:KeyFile");
        if (!string.IsNullOrEmpty(options.ReportLog.Path)) AssertUnder(DataDir, options.ReportLog.Path, "ReportLog:Path");
        foreach (var unix in options.Listen!.Select(Parse).Where(s => s.Kind == ListenKind.Unix))
            AssertUnder(SocketDir, unix.Path, "Listen unix socket");
        Assert.Subset(mountedDirs.ToHashSet(), new HashSet<string> { KeysDir, DataDir, SocketDir });
    }

    [Fact]
    public void Milter_image_copies_what_exists_declares_its_volumes_and_runs_its_own_config()
    {
        foreach (var (sources, _) in MilterImage.ContextCopies.Concat(PostfixImage.ContextCopies))
            Assert.All(sources, s => Assert.True(File.Exists(RepoFiles.PathOf(s)) || Directory.Exists(RepoFiles.PathOf(s)), $"COPY {s}: not in the repository"));
        Assert.Equal(new[] { KeysDir, DataDir, SocketDir }.Order(), MilterImage.Volumes.Order());
        Assert.All(MilterImage.Volumes, v => Assert.Contains(v, MilterImage.All("RUN").Single(r => r.Contains("mkdir", StringComparison.Ordinal)), StringComparison.Ordinal));

        var cmd = DockerfileReader.ExecForm(MilterImage.All("CMD").Single());
        Assert.Equal(["run", "--config", MilterImage.DestinationOf("docker/milter.json")], cmd);
        Assert.Equal(["milter"], DockerfileReader.ExecForm(MilterImage.All("ENTRYPOINT").Single()));
        var options = LoadAsContainer(RepoFiles.PathOf("docker/milter.json"), []);
        Assert.Equal([InetPort(options)], MilterImage.ExposedPorts);
        AssertPathsOnVolumes(options, MilterImage.Volumes);
        Assert.Equal(10001, UserId().Uid);
    }

    private static (int Uid, int Gid) UserId()
    {
        var m = UidGid().Match(MilterImage.All("RUN").First(r => r.Contains("useradd", StringComparison.Ordinal)));
        Assert.True(m.Success);
        return (int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"--gid (\d+).*--uid (\d+)")]
    private static partial Regex UidGid();

    [Fact]
    public void Postfix_image_puts_the_templates_where_the_entrypoint_looks()
    {
        var script = File.ReadAllText(RepoFiles.EntrypointScript);
        Assert.Equal("/usr/share/milter-postfix/", PostfixImage.DestinationOf("postfix-config/"));
        Assert.Contains("TEMPLATES=${POSTFIX_TEMPLATES:-/usr/share/milter-postfix}", script, StringComparison.Ordinal);
        Assert.Equal("/usr/share/milter-postfix/main.cf.base", PostfixImage.DestinationOf("docker/postfix/main.cf.base"));
        Assert.Contains("BASE_MAIN=${POSTFIX_BASE_MAIN:-$TEMPLATES/main.cf.base}", script, StringComparison.Ordinal);
        Assert.Equal([PostfixImage.DestinationOf("docker/postfix/entrypoint.sh")], DockerfileReader.ExecForm(PostfixImage.All("ENTRYPOINT").Single()));
        Assert.Equal([25, 587], PostfixImage.ExposedPorts);
    }

    /// <summary>A fresh named volume takes the owner and mode of the directory of the first container that mounts it.
    /// Every compose service mounting a socket volume at /run/milter is built from one of the two images, and the
    /// Postfix image makes that directory as the Milter image owns it (the milter user's uid/gid, 0755; mkdir's mode
    /// under the build's umask 022 there), so Milter can make its socket whichever starts first. The containers
    /// themselves: tests/Milter.Containers.Tests SocketVolumeTests.</summary>
    [Fact]
    public void Every_image_mounting_the_socket_volume_makes_its_folder_owned_by_the_milter_user()
    {
        var (uid, gid) = UserId();
        Assert.Contains(MilterImage.All("RUN"), r => Regex.IsMatch(r, "chown milter:milter [^&;]*" + SocketDir));
        Assert.Contains($"install -d -o {uid} -g {gid} -m 0755 {SocketDir}", PostfixImage.All("RUN"));

        var compose = Assert.Single(LoadAll(RepoFiles.PathOf("docker/compose.yaml")));
        var mounting = Map(compose, "services").Select(s => ((string)s.Key, Map(s.Value, (string)s.Key)))
            .Where(s => List(s.Item2, "volumes").Cast<string>().Any(v => v.EndsWith(":" + SocketDir, StringComparison.Ordinal)))
            .ToList();
        Assert.Equal(8, mounting.Count); // the active pair, the standby pair, the two fleet pairs
        foreach (var (name, node) in mounting)
        {
            var dockerfile = (string)Map(node, "build")["dockerfile"];
            Assert.True(dockerfile is "docker/Dockerfile" or "docker/postfix/Dockerfile", $"{name}: {dockerfile}");
        }
    }

    /// <summary>The variables the entrypoint reads: every ${NAME...} it expands from the environment.</summary>
    private static HashSet<string> EntrypointVariables() =>
        ScriptVariable().Matches(File.ReadAllText(RepoFiles.EntrypointScript)).Select(m => m.Groups[1].Value).ToHashSet();

    [GeneratedRegex(@"\$\{([A-Z][A-Z0-9_]*):-")]
    private static partial Regex ScriptVariable();

    private static Dictionary<string, string> Environment(Dictionary<object, object> service)
    {
        if (!service.TryGetValue("environment", out var env)) return [];
        return Map(env, "environment").ToDictionary(e => (string)e.Key, e => Interpolate(e.Value?.ToString() ?? ""));
    }

    private static List<string> VolumeTargets(Dictionary<object, object> service, out List<string> readOnly)
    {
        var targets = List(service, "volumes").Select(v => Interpolate((string)v).Split(':')).ToList();
        readOnly = targets.Where(t => t.Length > 2 && t[2] == "ro").Select(t => t[1]).ToList();
        return targets.Select(t => t[1]).ToList();
    }

    [Fact]
    public void Compose_services_agree_with_the_images_and_the_milter_config()
    {
        var compose = Assert.Single(LoadAll(RepoFiles.PathOf("docker/compose.yaml")));
        var services = Map(compose, "services");
        var volumes = Map(compose, "volumes").Keys.Cast<string>().ToHashSet();
        var milters = new Dictionary<string, int>();
        foreach (var (name, node) in services.Select(s => ((string)s.Key, Map(s.Value, (string)s.Key))).Where(s => s.Item2.ContainsKey("build")))
        {
            var build = Map(node, "build");
            var dockerfile = Path.GetFullPath(Path.Combine(RepoFiles.PathOf("docker"), (string)build["context"], (string)build["dockerfile"]));
            Assert.True(File.Exists(dockerfile), $"{name}: {dockerfile} not found");
            foreach (var source in List(node, "volumes").Select(v => ((string)v).Split(':')[0]).Where(s => !s.StartsWith('.')))
                Assert.Contains(source, volumes);
            if (dockerfile == RepoFiles.PathOf("docker/Dockerfile"))
            {
                var options = LoadAsContainer(RepoFiles.PathOf("docker/milter.json"), Environment(node));
                var targets = VolumeTargets(node, out var readOnly);
                Assert.Equal(MilterImage.Volumes.Order(), targets.Order());
                Assert.Contains(KeysDir, readOnly);
                AssertPathsOnVolumes(options, targets);
                Assert.NotEmpty(options.Signing.Keys!);
                var port = InetPort(options);
                Assert.Equal([port.ToString(CultureInfo.InvariantCulture)], List(node, "expose").Cast<string>());
                milters[name] = port;
            }
        }
        Assert.Equal(4, milters.Count); // the active copy, the standby, and the postgres profile's two

        var known = EntrypointVariables();
        foreach (var (name, node) in services.Select(s => ((string)s.Key, Map(s.Value, (string)s.Key))).Where(s => !milters.ContainsKey(s.Item1) && s.Item2.ContainsKey("build")))
        {
            var env = Environment(node);
            Assert.All(env.Keys, k => Assert.True(known.Contains(k), $"{name}: {k} is not read by entrypoint.sh"));
            // inet:HOST:PORT, with HOST a milter service that listens on PORT.
            var m = Regex.Match(env["POSTFIX_MILTER"], @"^inet:([a-z-]+):(\d+)$");
            Assert.True(m.Success, env["POSTFIX_MILTER"]);
            Assert.Equal(milters[m.Groups[1].Value], int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            var dependsOn = Map(node, "depends_on");
            Assert.Equal("service_healthy", Map(dependsOn, m.Groups[1].Value)["condition"]);
            // The socket volume of that same milter, for users who switch to unix:/run/milter/milter.sock.
            var milterSocket = List(Map(services, m.Groups[1].Value), "volumes").Cast<string>().Single(v => v.EndsWith(":" + SocketDir, StringComparison.Ordinal));
            Assert.Contains(milterSocket, List(node, "volumes").Cast<string>());
            Assert.All(List(node, "ports").Cast<string>(), p => Assert.Contains(int.Parse(Interpolate(p).Split(':')[^1], CultureInfo.InvariantCulture), PostfixImage.ExposedPorts));
        }
    }

    [Fact]
    public void Kubernetes_pod_agrees_with_the_images_and_the_milter_config()
    {
        var documents = LoadAll(RepoFiles.PathOf("docker/kubernetes/deployment.yaml")).Concat(LoadAll(RepoFiles.PathOf("docker/kubernetes/config.yaml"))).ToList();
        var deployment = documents.Single(d => (string)d["kind"] == "Deployment");
        var configMap = documents.Single(d => (string)d["kind"] == "ConfigMap");
        var pod = Map(Map(Map(deployment, "spec"), "template"), "spec");
        var podVolumes = List(pod, "volumes").Select(v => Map(v, "volume")).ToDictionary(v => (string)v["name"]);
        var containers = List(pod, "containers").Select(c => Map(c, "container")).ToDictionary(c => (string)c["name"]);
        var milter = containers["milter"];
        var postfix = containers["postfix"];

        var mounts = List(milter, "volumeMounts").Select(m => Map(m, "mount")).ToList();
        Assert.All(mounts.Concat(List(postfix, "volumeMounts").Select(m => Map(m, "mount"))), m => Assert.Contains((string)m["name"], podVolumes.Keys));
        var configMount = mounts.Single(m => (string)m["name"] == "config");
        var args = List(milter, "args").Cast<string>().ToArray();
        // The ConfigMap is mounted as a folder (no subPath: podman 4.3 ignores it, and a subPath mount misses updates).
        Assert.False(configMount.ContainsKey("subPath"));
        Assert.Equal(["run", "--config", (string)configMount["mountPath"] + "/" + (string)Map(configMap, "data").Keys.Single()], args);
        Assert.Equal("milter-config", Map(podVolumes["config"], "configMap")["name"]);
        Assert.Equal("true", mounts.Single(m => (string)m["name"] == "keys")["readOnly"]);
        Assert.Contains("secret", podVolumes["keys"].Keys);

        using var dir = new TempDir("k8s");
        File.WriteAllText(dir.File("milter.json"), (string)Map(configMap, "data")["milter.json"]);
        var allEnv = List(milter, "env").Select(e => Map(e, "env")).ToList();
        // Values from a Secret (the report store's) are not in the file: checked by the test of the report store below.
        var env = allEnv.Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);
        var options = LoadAsContainer(dir.File("milter.json"), env);
        AssertPathsOnVolumes(options, mounts.Select(m => (string)m["mountPath"]).Where(p => !p.EndsWith(".json", StringComparison.Ordinal)).ToList());
        var port = InetPort(options);
        Assert.Equal(port, int.Parse(Map(List(milter, "ports")[0], "port")["containerPort"].ToString()!, CultureInfo.InvariantCulture));
        var security = Map(milter, "securityContext");
        Assert.Equal(UserId().Uid.ToString(CultureInfo.InvariantCulture), security["runAsUser"]);
        Assert.Equal(UserId().Gid.ToString(CultureInfo.InvariantCulture), Map(pod, "securityContext")["fsGroup"]);

        var postfixEnv = List(postfix, "env").Select(e => Map(e, "env")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);
        Assert.All(postfixEnv.Keys, k => Assert.Contains(k, EntrypointVariables()));
        Assert.Equal($"inet:127.0.0.1:{port}", postfixEnv["POSTFIX_MILTER"]);
        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
        {
            var command = List(Map(Map(milter, probe), "exec"), "command").Cast<string>().ToArray();
            Assert.Equal(port, HealthPort(command));
        }
    }

    /// <summary>The port of a `milter health --connect inet:PORT@127.0.0.1 ...` command.</summary>
    private static int HealthPort(string[] command)
    {
        Assert.Equal(["milter", "health", "--connect"], command[..3]);
        var spec = Parse(command[3]);
        Assert.Equal(ListenKind.Inet, spec.Kind);
        return spec.Port;
    }

    public static IEnumerable<object[]> HealthCommands()
    {
        yield return ["docker/Dockerfile HEALTHCHECK", MilterImage.HealthCheck];
        var deployment = LoadAll(RepoFiles.PathOf("docker/kubernetes/deployment.yaml")).Single(d => (string)d["kind"] == "Deployment");
        var milter = List(Map(Map(Map(deployment, "spec"), "template"), "spec"), "containers").Select(c => Map(c, "c")).Single(c => (string)c["name"] == "milter");
        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
            yield return [$"kubernetes {probe}", List(Map(Map(milter, probe), "exec"), "command").Cast<string>().ToArray()];
    }

    /// <summary>The health commands, run as written (only the port moved to a free one): exit 0 against a running
    /// `milter run`, exit 1 once it has stopped. A misspelt option would exit 2.</summary>
    [Theory]
    [MemberData(nameof(HealthCommands))]
    public async Task Health_commands_run_as_written_against_a_real_daemon(string where, string[] command)
    {
        var original = HealthPort(command);
        var port = FreePort.Next();
        var args = command.Skip(1).Select(a => a.Replace($"inet:{original}@", $"inet:{port}@", StringComparison.Ordinal)).ToArray();
        await using (var daemon = await MilterDaemon.StartAsync(["--listen", $"inet:{port}@127.0.0.1"]))
        {
            var healthy = await MilterDaemon.RunCliAsync(args);
            Assert.True(healthy.ExitCode == 0, $"{where}: {string.Join(' ', args)} -> {healthy.ExitCode}\n{healthy.StdOut}{healthy.StdErr}");
        }
        var down = await MilterDaemon.RunCliAsync(args);
        Assert.True(down.ExitCode == 1, $"{where}: {string.Join(' ', args)} with no daemon -> {down.ExitCode}\n{down.StdOut}{down.StdErr}");
    }
}
