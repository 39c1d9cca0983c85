using Milter.TestKit;

namespace Milter.Containers.Tests;

/// <summary>podman and podman-compose, with CONTAINERS_CONF set to lab/containers.conf (runc, cgroupfs,
/// no default ulimits: what this sandbox needs; the system's containers.conf is left alone).</summary>
public static class Podman
{
    public const string PodmanPath = "/usr/bin/podman";
    public const string ComposePath = "/usr/bin/podman-compose";
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Points CONTAINERS_CONF at lab/containers.conf for every podman, podman-compose and script
    /// this process starts from now on (they inherit it). Called before anything runs podman.</summary>
    public static void UseLabConfig() =>
        Environment.SetEnvironmentVariable("CONTAINERS_CONF", Path.Combine(Repo.Lab, "containers.conf"));

    public static Task<ProcessResult> RunAsync(params string[] args) => RunAsync(CommandTimeout, args);

    public static Task<ProcessResult> RunAsync(TimeSpan timeout, params string[] args)
    {
        ProcessRunner.Require(PodmanPath, "podman");
        UseLabConfig();
        return ProcessRunner.RunAsync(PodmanPath, args, timeout);
    }

    /// <summary>Runs podman and returns its trimmed stdout; throws with the whole output when it fails.</summary>
    public static async Task<string> OutputAsync(params string[] args) =>
        (await RunAsync(args)).EnsureSuccess("podman " + args[0]).StdOut.Trim();

    /// <summary>podman-compose in <paramref name="directory"/> (it reads compose.yaml, compose.override.yaml
    /// and .env there, as docker compose does), project name <paramref name="project"/>.</summary>
    public static Task<ProcessResult> ComposeAsync(string directory, string project, TimeSpan timeout, params string[] args)
    {
        ProcessRunner.Require(ComposePath, "podman-compose");
        UseLabConfig();
        return ProcessRunner.RunAsync(ComposePath, ["-p", project, .. args], timeout, stdin: null, workingDirectory: directory);
    }

    public static async Task<bool> ExistsAsync(string what, string name) =>
        (await RunAsync(what, "exists", name)).ExitCode == 0;

    /// <summary>The container's health as podman records it after `podman healthcheck run`: "healthy",
    /// "unhealthy" or "starting". Podman runs the checks from systemd timers, and there is no systemd here,
    /// so the tests run the image's HEALTHCHECK themselves with `podman healthcheck run`.</summary>
    public static async Task<string> HealthCheckAsync(string container)
    {
        var run = await RunAsync("healthcheck", "run", container);
        return run.ExitCode == 0 ? "healthy" : run.StdOut.Trim() is { Length: > 0 } s ? s : "unhealthy: " + run.StdErr.Trim();
    }

    public static Task<string> LogsAsync(string container) =>
        RunAsync("logs", container).ContinueWith(t => t.Result.StdOut + t.Result.StdErr, TaskScheduler.Default);

    public static async Task<string> StateAsync(string container) =>
        await OutputAsync("inspect", "--format", "{{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}}", container);
}
