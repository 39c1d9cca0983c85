using Milter.TestKit;
using Milter.Tests.Deployment;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Docs;

/// <summary>
/// Where the doc test runs the command blocks of a README as a user would, without touching this host or the
/// checkout: a copy of docker/ and postfix-config/, a `milter` command on PATH (the milter built with these
/// tests), and a scratch Postfix configuration made from Debian's stock files, named by MAIL_CONFIG, which
/// postconf and postfix read instead of /etc/postfix. TMPDIR and HOME are inside the sandbox too.
/// </summary>
public sealed class DocSandbox : IDisposable
{
    public const string PostconfPath = "/usr/sbin/postconf";
    public const string StockMainCf = "/usr/share/postfix/main.cf.debian";
    public const string StockMasterCf = "/usr/share/postfix/master.cf.dist";
    private static readonly string[] CopiedFolders = ["docker", "postfix-config"];

    private readonly TempDir _dir = new("doc");

    public string Root => _dir.File("checkout");
    public string PostfixConfig => _dir.File("postfix/etc");

    private DocSandbox() { }

    public static async Task<DocSandbox> CreateAsync()
    {
        ProcessRunner.Require(PostconfPath, "postfix");
        ProcessRunner.Require(StockMainCf, "postfix");
        ProcessRunner.Require(StockMasterCf, "postfix");
        var sandbox = new DocSandbox();
        try
        {
            await sandbox.PrepareAsync();
            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    private async Task PrepareAsync()
    {
        foreach (var folder in CopiedFolders) Copy(RepoFiles.PathOf(folder), Path.Combine(Root, folder));
        _dir.Sub("bin");
        _dir.Sub("home");
        _dir.Sub("tmp");
        File.WriteAllText(_dir.File("bin/milter"), $"#!/bin/sh\nexec {Dotnet()} {MilterDaemon.MilterDll} \"$@\"\n");
        File.SetUnixFileMode(_dir.File("bin/milter"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        // The "host" Postfix: Debian's stock main.cf and master.cf, with its queue and data in the sandbox.
        _dir.Sub("postfix/etc");
        File.Copy(StockMainCf, Path.Combine(PostfixConfig, "main.cf"));
        File.Copy(StockMasterCf, Path.Combine(PostfixConfig, "master.cf"));
        string queue = _dir.Sub("postfix/queue"), data = _dir.Sub("postfix/data");
        (await ProcessRunner.RunAsync(PostconfPath, ["-c", PostfixConfig, "-e", $"queue_directory = {queue}", $"data_directory = {data}"],
            TimeSpan.FromSeconds(30))).EnsureSuccess("postconf -e (the scratch Postfix configuration)");
        (await ProcessRunner.RunAsync("/bin/chown", ["postfix", data], TimeSpan.FromSeconds(10))).EnsureSuccess("chown postfix");
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        // A developer's keys/ or .env in the checkout stay out: the blocks make their own.
        foreach (var dir in Directory.EnumerateDirectories(from).Where(d => Path.GetFileName(d) != "keys"))
            Copy(dir, Path.Combine(to, Path.GetFileName(dir)));
    }

    /// <summary>The dotnet that runs milter.dll: from PATH or DOTNET_ROOT, as the tests themselves are run.</summary>
    private static string Dotnet()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append(Environment.GetEnvironmentVariable("DOTNET_ROOT") ?? "")
            .Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, "dotnet"));
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException("dotnet not found on PATH or in DOTNET_ROOT: the doc test runs the built milter with it");
    }

    /// <summary>The environment of every block (nothing else from the test process leaks in, no MILTER_ variable).</summary>
    public IReadOnlyDictionary<string, string> BlockEnvironment => new Dictionary<string, string>
    {
        ["PATH"] = $"{_dir.File("bin")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["HOME"] = _dir.File("home"),
        ["TMPDIR"] = _dir.File("tmp"),
        ["LANG"] = "C.UTF-8",
        ["MAIL_CONFIG"] = PostfixConfig,
    };

    /// <summary>Runs the block's text with `sh -e` from its folder in the copy of the checkout.</summary>
    public async Task<ProcessResult> RunAsync(DocBlock block)
    {
        string script = _dir.File($"block-{block.Line}.sh");
        await File.WriteAllTextAsync(script, block.Text);
        var argv = new List<string> { "-i" };
        argv.AddRange(BlockEnvironment.Select(e => $"{e.Key}={e.Value}"));
        argv.AddRange(["/bin/sh", "-e", script]);
        return await ProcessRunner.RunAsync("/usr/bin/env", argv, TimeSpan.FromSeconds(120), stdin: null,
            workingDirectory: Path.Combine(Root, block.Folder));
    }

    /// <summary>postconf ARGS against the scratch configuration.</summary>
    public Task<ProcessResult> PostconfAsync(params string[] args) =>
        ProcessRunner.RunAsync(PostconfPath, ["-c", PostfixConfig, .. args], TimeSpan.FromSeconds(30));

    public void Dispose() => _dir.Dispose();
}
