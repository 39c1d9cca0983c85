using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Milter.TestKit;

namespace Milter.Containers.Tests;

/// <summary>
/// The images every container test uses, made once per run: the base images from the recipe
/// (lab/base-images.sh: Debian by debootstrap, .NET from this machine's SDK; kept between runs), then
/// docker/postfix/Dockerfile and docker/Dockerfile built from the checkout as they are (--pull=never,
/// --format docker so HEALTHCHECK stays). Each image is tagged with a hash of what its build reads, so a
/// second run with the same files reuses it; it is also tagged milter:latest / milter-postfix:latest, the
/// names compose.yaml and the Kubernetes manifests use.
/// </summary>
public sealed class LabImages : IAsyncLifetime
{
    public const string Milter = "localhost/milter:latest";
    public const string Postfix = "localhost/milter-postfix:latest";
    public const string Debian = "localhost/debian:bookworm";
    private static readonly TimeSpan BaseTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    /// <summary>NuGet's package folder for `dotnet publish` inside the SDK image, kept between runs.</summary>
    private const string NuGetCache = "/var/cache/milter-lab/nuget";

    public const string Sendmail = "localhost/milter-sendmail:latest";
    public const string PostfixTrixie = "localhost/milter-postfix:trixie";

    public string MilterTag { get; private set; } = "";
    public string PostfixTag { get; private set; } = "";

    private readonly SemaphoreSlim _extraGate = new(1, 1);
    private string? _sendmailTag;
    private string? _postfixTrixieTag;

    /// <summary>The Sendmail test peer (lab/sendmail/Containerfile on the local Debian bookworm image), built
    /// the first time a test asks for it and, like the others, reused while its inputs do not change.</summary>
    public async Task<string> SendmailAsync()
    {
        await _extraGate.WaitAsync();
        try
        {
            return _sendmailTag ??= await BuildAsync("milter-sendmail", "tests/Milter.Containers.Tests/lab/sendmail/Containerfile",
                Sendmail, ["tests/Milter.Containers.Tests/lab/sendmail"], [Debian], [],
                context: "tests/Milter.Containers.Tests/lab/sendmail");
        }
        finally
        {
            _extraGate.Release();
        }
    }

    /// <summary>docker/postfix/Dockerfile built on Debian trixie (Postfix 3.10) with its DEBIAN_IMAGE build-arg:
    /// base-images.sh makes localhost/debian:trixie (debootstrap) the first time, kept between runs.</summary>
    public async Task<string> PostfixTrixieAsync()
    {
        await _extraGate.WaitAsync();
        try
        {
            if (_postfixTrixieTag is not null) return _postfixTrixieTag;
            var clock = Stopwatch.StartNew();
            var bases = await ProcessRunner.RunAsync("/bin/sh", [Path.Combine(Repo.Lab, "base-images.sh"), "trixie"], BaseTimeout);
            if (!bases.Succeeded)
                throw new InvalidOperationException("Debian trixie base image not made: " + LastLine(bases) + "\n" + bases.Describe());
            Figures.Add($"base image trixie ready: {Figures.Seconds(clock.Elapsed)}");
            const string trixie = "docker.io/library/debian:trixie-slim";
            return _postfixTrixieTag = await BuildAsync("milter-postfix-trixie", "docker/postfix/Dockerfile", PostfixTrixie,
                PostfixInputs, [trixie], ["--build-arg", "DEBIAN_IMAGE=" + trixie]);
        }
        finally
        {
            _extraGate.Release();
        }
    }

    private static readonly string[] PostfixInputs = ["docker/postfix", "postfix-config"];

    public async Task InitializeAsync()
    {
        if (!File.Exists(Podman.PodmanPath))
            throw new InvalidOperationException("podman cannot run containers: /usr/bin/podman not found (install the Debian package podman; ./test.sh does)");

        Podman.UseLabConfig();
        var clock = Stopwatch.StartNew();
        var bases = await ProcessRunner.RunAsync("/bin/sh", [Path.Combine(Repo.Lab, "base-images.sh")], BaseTimeout);
        if (!bases.Succeeded)
            throw new InvalidOperationException("podman cannot run containers: base images not made: " + LastLine(bases) + "\n" + bases.Describe());
        string made = bases.StdOut.Trim().Replace('\n', ';');
        Figures.Add($"base images ready: {Figures.Seconds(clock.Elapsed)}{(made.Length > 0 ? $" ({made})" : " (all kept from an earlier run)")}");

        var smoke = await Podman.RunAsync("run", "--rm", "--pull=never", "--network", "none", Debian, "true");
        if (!smoke.Succeeded)
            throw new InvalidOperationException("podman cannot run containers: " + LastLine(smoke) + "\n" + smoke.Describe());

        PostfixTag = await BuildAsync("milter-postfix", "docker/postfix/Dockerfile", Postfix,
            PostfixInputs, ["docker.io/library/debian:bookworm-slim"], []);
        Directory.CreateDirectory(NuGetCache);
        MilterTag = await BuildAsync("milter", "docker/Dockerfile", Milter,
            ["docker/Dockerfile", "docker/Dockerfile.dockerignore", "docker/milter.json", "global.json",
             "Directory.Build.props", "Directory.Packages.props", "src"],
            ["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/runtime-deps:10.0"],
            ["-v", $"{NuGetCache}:/root/.nuget/packages"]);

        long milter = await SizeAsync(Milter), runtime = await SizeAsync("mcr.microsoft.com/dotnet/runtime-deps:10.0");
        long postfix = await SizeAsync(Postfix), debian = await SizeAsync("docker.io/library/debian:bookworm-slim");
        Figures.Add($"image milter: {Figures.Megabytes(milter)} ({Figures.Megabytes(milter - runtime)} on top of the .NET runtime-deps image)");
        Figures.Add($"image milter-postfix: {Figures.Megabytes(postfix)} ({Figures.Megabytes(postfix - debian)} on top of Debian bookworm)");
    }

    private static async Task<string> BuildAsync(string name, string dockerfile, string latest, string[] inputs,
        string[] baseImages, string[] extra, string context = "")
    {
        var baseIds = new List<string>();
        foreach (string image in baseImages) baseIds.Add(await Podman.OutputAsync("image", "inspect", "--format", "{{.Id}}", image));
        string tag = $"localhost/{name}:lab-{ContentHash(inputs, baseIds)}";
        if (await Podman.ExistsAsync("image", tag))
        {
            Figures.Add($"image {name}: unchanged, reused {tag}");
        }
        else
        {
            var clock = Stopwatch.StartNew();
            var build = await Podman.RunAsync(BuildTimeout,
                ["build", "--pull=never", "--network", "host", "--format", "docker", .. extra,
                 "-f", Repo.PathOf(dockerfile), "-t", tag, Repo.PathOf(context)]);
            if (!build.Succeeded)
                throw new InvalidOperationException($"podman build {dockerfile} failed: {LastLine(build)}\n{build.Describe()}");
            Figures.Add($"image {name}: built in {Figures.Seconds(clock.Elapsed)}");
            await PruneAsync(name, tag);
        }
        await Podman.OutputAsync("tag", tag, latest);
        return tag;
    }

    /// <summary>Lab tags of one image kept besides the one just built (another checkout on the machine may use them).</summary>
    internal const int KeptOlderBuilds = 2;

    /// <summary>
    /// After a new build, so runs on changing sources do not fill the disk (each Milter build leaves a 1.5 GB
    /// build stage): the image's older lab tags but the newest <see cref="KeptOlderBuilds"/> are removed, and
    /// untagged images more than a day old (build stages, the layer cache of older builds) are pruned. A tag
    /// a container still uses stays (podman refuses); the pruning never fails the run.
    /// </summary>
    internal static async Task PruneAsync(string name, string current)
    {
        var listed = await Podman.RunAsync("images", "--sort", "created", "--format", "{{.Repository}}:{{.Tag}}",
            "--filter", $"reference=localhost/{name}");
        var older = listed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(t => t.StartsWith($"localhost/{name}:lab-", StringComparison.Ordinal) && t != current)
            .Skip(KeptOlderBuilds).ToList();
        int removed = 0;
        foreach (string old in older)
            if ((await Podman.RunAsync("rmi", old)).Succeeded) removed++;
        var pruned = await Podman.RunAsync("image", "prune", "--force", "--filter", "until=24h");
        int prunedCount = pruned.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Figures.Add($"image {name}: {removed} older lab tag(s) removed, {prunedCount} untagged image(s) older than a day pruned" +
            (pruned.Succeeded ? "" : $" (prune failed: {LastLine(pruned)})"));
    }

    /// <summary>SHA-256 over the ids of the base images and the relative path and bytes of every file under
    /// the inputs (bin/ and obj/ left out, as the .dockerignore does), the first 16 hex digits.</summary>
    public static string ContentHash(IEnumerable<string> inputs, IEnumerable<string> baseImageIds)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            string full = Repo.PathOf(input);
            if (File.Exists(full)) files.Add(full);
            else files.AddRange(Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories)
                .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")));
        }
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string id in baseImageIds) sha.AppendData(Encoding.UTF8.GetBytes(id + "\n"));
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(Repo.Root, file) + "\0"));
            sha.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private static async Task<long> SizeAsync(string image) =>
        long.Parse(await Podman.OutputAsync("image", "inspect", "--format", "{{.Size}}", image), CultureInfo.InvariantCulture);

    private static string LastLine(ProcessResult result)
    {
        string text = (result.StdErr.Trim().Length > 0 ? result.StdErr : result.StdOut).Trim();
        return result.TimedOut ? "timed out" : text.Split('\n')[^1].Trim();
    }

    public Task DisposeAsync()
    {
        _extraGate.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Every container test shares one <see cref="LabImages"/> and runs one at a time (2 cores).</summary>
[CollectionDefinition(Name)]
public sealed class ContainersCollection : ICollectionFixture<LabImages>
{
    public const string Name = "containers";
}
