using System.Globalization;
using Milter.TestKit;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// Bad input stops a container at once with one line naming the problem, visible in `podman logs`, and the
/// HEALTHCHECK never passes: a key file missing or owned by someone else in the keys volume, a MILTER_
/// variable with a bad value, a Postfix role that does not exist; and under compose, a key with the wrong owner.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed class BadInputTests(LabImages images, ITestOutputHelper output)
{
    private static readonly TimeSpan ExitsWithin = TimeSpan.FromSeconds(30);
    private readonly LabImages _images = images;

    private static readonly string[] KeyVariables =
    [
        "-e", "MILTER_Signing__Keys__0__Domain=example.test",
        "-e", "MILTER_Signing__Keys__0__Selector=s2026",
        "-e", "MILTER_Signing__Keys__0__KeyFile=/etc/milter/keys/s2026.private",
    ];

    [Fact]
    public async Task Missing_key_file_stops_milter_with_one_line_naming_it()
    {
        using var keys = KeysDir(writeKey: false);
        var (logs, _) = await RunToExitAsync("key file missing", LabImages.Milter, ["-v", $"{keys.Path}:/etc/milter/keys:ro", .. KeyVariables]);
        Assert.Contains("/etc/milter/keys/s2026.private", OneLine(logs));
    }

    [Fact]
    public async Task Key_file_owned_by_root_stops_milter_with_one_line_naming_it()
    {
        using var keys = KeysDir(writeKey: true);
        await Chown("0:0", Path.Combine(keys.Path, "s2026.private"));
        var (logs, _) = await RunToExitAsync("key file owned by root", LabImages.Milter, ["-v", $"{keys.Path}:/etc/milter/keys:ro", .. KeyVariables]);
        Assert.Contains("/etc/milter/keys/s2026.private", OneLine(logs));
    }

    [Fact]
    public async Task Milter_variable_with_a_bad_value_stops_milter_with_one_line_naming_it()
    {
        var (logs, _) = await RunToExitAsync("bad MILTER_ value", LabImages.Milter, ["-e", "MILTER_Dmarc__RejectOnFailure=maybe"]);
        Assert.Contains("RejectOnFailure", OneLine(logs));
    }

    [Fact]
    public async Task Unknown_postfix_role_stops_postfix_with_one_line_naming_it()
    {
        var (logs, _) = await RunToExitAsync("unknown Postfix role", LabImages.Postfix, ["-e", "POSTFIX_ROLES=relya"]);
        Assert.Contains("relya", OneLine(logs));
    }

    [Fact]
    public async Task Under_compose_a_key_with_the_wrong_owner_never_becomes_healthy()
    {
        await using var lab = await ComposeLab.CreateAsync();
        await Chown("0:0", Path.Combine(lab.KeysDir, ComposeLab.Selector + ".private"));
        var up = await lab.UpAsync(new Dictionary<string, string>(), "milter");
        Assert.True(up.Succeeded, up.Describe());
        string container = lab.Container("milter");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            Assert.NotEqual("healthy", await Podman.HealthCheckAsync(container));
            await Task.Delay(500);
        }
        string logs = await Podman.LogsAsync(container);
        Assert.Contains($"/etc/milter/keys/{ComposeLab.Selector}.private", logs);
        output.WriteLine(await Podman.StateAsync(container));
    }

    /// <summary>Runs the image detached with <paramref name="args"/>, waits for it to exit, checks it exited
    /// non-zero within <see cref="ExitsWithin"/> of its start and that its HEALTHCHECK does not pass; returns
    /// its logs and how long it ran.</summary>
    private async Task<(string Logs, TimeSpan Ran)> RunToExitAsync(string what, string image, string[] args)
    {
        string name = "mct-bad-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await Podman.OutputAsync(["run", "-d", "--pull=never", "--network", "none", "--name", name, .. args, image]);
            var wait = await Podman.RunAsync(ExitsWithin + TimeSpan.FromSeconds(30), "wait", name);
            Assert.True(wait.Succeeded, $"{name} did not exit:\n{wait.Describe()}\n{await Podman.LogsAsync(name)}");
            int exit = int.Parse(wait.StdOut.Trim(), CultureInfo.InvariantCulture);
            string logs = await Podman.LogsAsync(name);
            Assert.True(exit != 0, $"exit code 0:\n{logs}");
            Assert.NotEqual("healthy", await Podman.HealthCheckAsync(name));
            string times = await Podman.OutputAsync("inspect", "--format", "{{.State.StartedAt.UnixMilli}} {{.State.FinishedAt.UnixMilli}}", name);
            long[] ms = [.. times.Split(' ').Select(t => long.Parse(t, CultureInfo.InvariantCulture))];
            var ran = TimeSpan.FromMilliseconds(ms[1] - ms[0]);
            Assert.True(ran < ExitsWithin, $"ran {ran} before exiting");
            Figures.Add($"bad input, {what}: exit {exit} after {Figures.Seconds(ran)}: {logs.Trim()}");
            output.WriteLine($"exit {exit} after {ran}: {logs}");
            return (logs, ran);
        }
        finally
        {
            await Podman.RunAsync("rm", "-f", "-v", "-t", "0", name); // -v: the image's anonymous VOLUMEs too
        }
    }

    /// <summary>The logs hold exactly one non-empty line; returns it.</summary>
    private static string OneLine(string logs)
    {
        var lines = logs.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line, got {lines.Length}:\n{logs}");
        return lines[0];
    }

    /// <summary>A keys folder owned by the milter user (10001), with a PEM key s2026.private (mode 0600, owner
    /// 10001) when <paramref name="writeKey"/>.</summary>
    private static TempDir KeysDir(bool writeKey)
    {
        var dir = new TempDir("keys");
        if (writeKey)
        {
            using var rsa = System.Security.Cryptography.RSA.Create(2048);
            string file = Path.Combine(dir.Path, "s2026.private");
            File.WriteAllText(file, rsa.ExportPkcs8PrivateKeyPem());
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Chown("10001:10001", file).GetAwaiter().GetResult();
        }
        Chown("10001:10001", dir.Path).GetAwaiter().GetResult();
        return dir;
    }

    private static async Task Chown(string owner, string path) =>
        (await ProcessRunner.RunAsync("/bin/chown", [owner, path], TimeSpan.FromSeconds(10))).EnsureSuccess("chown");
}
