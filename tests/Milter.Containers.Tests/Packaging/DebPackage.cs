using System.Diagnostics;
using Milter.TestKit;

namespace Milter.Containers.Tests.Packaging;

/// <summary>
/// What the packaging tests share, made once per run: the .deb from packaging/deb/build.sh (which reuses its
/// cached publish output and package when the sources are unchanged) and a Debian bookworm image that boots
/// systemd (Packaging/systemd.Containerfile on the lab's debootstrap image, tagged by content hash so a
/// second run reuses it).
/// </summary>
public sealed class DebPackage : IAsyncLifetime
{
    public const string SystemdImage = "localhost/milter-systemd:bookworm";
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(20);

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "milter-deb-test-" + Environment.ProcessId);
    public string DebPath => Path.Combine(Directory, "milter_1.0.0_amd64.deb");
    public string SystemdImageTag { get; private set; } = "";

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var clock = Stopwatch.StartNew();
        var build = await ProcessRunner.RunAsync("/bin/sh", [Repo.PathOf("packaging/deb/build.sh"), Directory], BuildTimeout);
        build.EnsureSuccess("packaging/deb/build.sh");
        Figures.Add($"deb package: {Figures.Megabytes(new FileInfo(DebPath).Length)} in {Figures.Seconds(clock.Elapsed)} ({build.StdOut.Trim().Split('\n')[0].Replace("build.sh: ", "")})");

        if (!await Podman.ExistsAsync("image", LabImages.Debian))
            (await ProcessRunner.RunAsync("/bin/sh", [Path.Combine(Repo.Lab, "base-images.sh")], BuildTimeout)).EnsureSuccess("lab/base-images.sh");
        string debianId = await Podman.OutputAsync("image", "inspect", "--format", "{{.Id}}", LabImages.Debian);
        string dir = "tests/Milter.Containers.Tests/Packaging";
        SystemdImageTag = $"localhost/milter-systemd:lab-{LabImages.ContentHash([dir + "/systemd.Containerfile"], [debianId])}";
        if (!await Podman.ExistsAsync("image", SystemdImageTag))
        {
            (await Podman.RunAsync(BuildTimeout, "build", "--pull=never", "--network", "host", "-f",
                Repo.PathOf(dir + "/systemd.Containerfile"), "-t", SystemdImageTag, Repo.PathOf(dir))).EnsureSuccess("podman build systemd.Containerfile");
        }
        await Podman.OutputAsync("tag", SystemdImageTag, SystemdImage);
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The packaging tests share one <see cref="DebPackage"/> and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class PackagingCollection : ICollectionFixture<DebPackage>
{
    public const string Name = "packaging";
}
