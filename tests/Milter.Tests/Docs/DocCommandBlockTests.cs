using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.Tests.Deployment;
using static Milter.Tests.Deployment.ComposeYaml;

namespace Milter.Tests.Docs;

/// <summary>
/// The command blocks of the deployment READMEs work as written (issue 20 item 7): every fenced block is
/// marked, the runnable ones run in a sandbox (rendering, the postconf merge, postfix check, milter commands)
/// and leave what the README says they leave; the ones that need a Docker engine, a registry or a cluster are
/// marked skip with the reason, and the files they name exist and parse.
/// </summary>
public sealed partial class DocCommandBlockTests
{
    public const string DockerReadme = "docker/README.md";
    public const string PostfixReadme = "postfix-config/README.md";

    public static TheoryData<string> Readmes() => new() { DockerReadme, PostfixReadme };

    private static List<DocBlock> Blocks(string readme)
    {
        var (blocks, problems) = MarkdownCommandBlocks.Read(readme, RepoFiles.Read(readme));
        Assert.True(problems.Count == 0, string.Join('\n', problems));
        return blocks;
    }

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_block_is_marked_run_or_skip_with_a_reason(string readme)
    {
        var blocks = Blocks(readme);
        Assert.Contains(blocks, b => b.Action == DocBlockAction.Run);
        Assert.All(blocks.Where(b => b.Action == DocBlockAction.Run), b =>
            Assert.True(Directory.Exists(RepoFiles.PathOf(b.Folder)), $"{b}: runs in {b.Folder}, which is not a folder of the checkout"));
    }

    [Fact]
    public void A_block_without_a_marker_or_with_an_empty_reason_is_a_problem()
    {
        const string markdown = "# T\n```sh\necho unmarked\n```\n<!-- doc-test: skip () -->\n```sh\necho no reason\n```\n" +
            "<!-- doc-test: run in . -->\n```yaml\na: 1\n```\n<!-- doc-test: skip (needs a cluster) -->\n```sh\nkubectl get pods\n```\n";
        var (blocks, problems) = MarkdownCommandBlocks.Read("x.md", markdown);
        Assert.Equal(3, problems.Count);
        Assert.StartsWith("x.md:2: a ```sh block without a doc-test marker", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("x.md:6: a ```sh block without a doc-test marker", problems[1], StringComparison.Ordinal);
        Assert.StartsWith("x.md:10: only a shell block", problems[2], StringComparison.Ordinal);
        var skipped = Assert.Single(blocks);
        Assert.Equal(("needs a cluster", "kubectl get pods\n"), (skipped.Reason, skipped.Text));
    }

    /// <summary>Runs the README's runnable blocks in order in one sandbox, as a user follows the page.</summary>
    private static async Task<DocSandbox> RunBlocksAsync(string readme)
    {
        var before = HostPostfixFiles();
        var sandbox = await DocSandbox.CreateAsync();
        try
        {
            foreach (var block in Blocks(readme).Where(b => b.Action == DocBlockAction.Run))
            {
                var result = await sandbox.RunAsync(block);
                Assert.True(result.Succeeded, $"{block} failed, run as written:\n{block.Text}\n{result.Describe()}");
            }
            Assert.Equal(before, HostPostfixFiles()); // MAIL_CONFIG kept every postconf/postfix away from /etc/postfix
            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> HostPostfixFiles() =>
        new[] { "/etc/postfix/main.cf", "/etc/postfix/master.cf" }.Where(File.Exists)
            .ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Theory]
    [MemberData(nameof(Readmes))]
    public async Task Runnable_blocks_run_as_written(string readme)
    {
        using var sandbox = await RunBlocksAsync(readme);
    }

    /// <summary>postfix-config/README.md "Using them": the roles merged into a stock Debian configuration, each
    /// parameter once, the stock smtp service replaced, the other stock services kept, and postfix check passes.</summary>
    [Fact]
    public async Task Postfix_block_merges_the_rendered_roles_into_the_host_configuration()
    {
        using var sandbox = await RunBlocksAsync(PostfixReadme);
        var main = await sandbox.PostconfAsync("-n");
        Assert.True(main.Succeeded, main.Describe());
        Assert.DoesNotContain("warning", main.StdErr, StringComparison.Ordinal); // no parameter set twice
        Assert.Contains("\nsmtpd_milters = { inet:127.0.0.1:8891, default_action=tempfail,", main.StdOut, StringComparison.Ordinal);
        Assert.Contains("\nnon_smtpd_milters = $smtpd_milters\n", main.StdOut, StringComparison.Ordinal);
        Assert.Contains("\nmyhostname = relay.example.com\n", main.StdOut, StringComparison.Ordinal);
        Assert.Contains("\nbiff = no\n", main.StdOut, StringComparison.Ordinal); // the stock settings stay

        var services = (await sandbox.PostconfAsync("-M")).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var smtp = Assert.Single(services, s => s[0] == "smtp" && s[1] == "inet");
        Assert.Equal("n", smtp[4]); // the template's chroot, not the stock y
        var submission = Assert.Single(services, s => s[0] == "submission" && s[1] == "inet");
        Assert.Contains("milter_macro_daemon_name=ORIGINATING", submission);
        Assert.Contains(services, s => s[0] == "pickup");

        var check = await ProcessRunner.RunAsync(PostfixProgram, ["-c", sandbox.PostfixConfig, "check"], TimeSpan.FromSeconds(60));
        Assert.True(check.Succeeded && check.StdErr.Length == 0, check.Describe());
    }

    private const string PostfixProgram = "/usr/sbin/postfix";

    /// <summary>docker/README.md "Kubernetes": the key block leaves the file the Secret is made from.</summary>
    [Fact]
    public async Task Docker_blocks_leave_the_files_the_skipped_blocks_use()
    {
        using var sandbox = await RunBlocksAsync(DockerReadme);
        var fromFiles = Blocks(DockerReadme).Where(b => b.Action == DocBlockAction.Skip)
            .SelectMany(b => FromFile().Matches(b.Text)).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(fromFiles);
        Assert.All(fromFiles, f => Assert.True(File.Exists(Path.Combine(sandbox.Root, "docker", f)), $"--from-file={f}: not made by any block"));
        Assert.Contains("v=DKIM1;", File.ReadAllText(Path.Combine(sandbox.Root, "docker", "s2026.txt")), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"--from-file=(\S+)")]
    private static partial Regex FromFile();

    /// <summary>The blocks that cannot run here still name real files: every `-f FILE` (docker build, kubectl apply)
    /// exists next to the README, YAML ones parse, and a manifest applied with kubectl holds no Secret (the README
    /// makes the real one with kubectl create secret; an example in the same file would replace it).</summary>
    [Theory]
    [MemberData(nameof(Readmes))]
    public void Files_named_by_skipped_blocks_exist_and_parse(string readme)
    {
        var folder = Path.GetDirectoryName(RepoFiles.PathOf(readme))!;
        foreach (var block in Blocks(readme).Where(b => b.Action == DocBlockAction.Skip))
        {
            foreach (var line in block.Text.Split('\n'))
            {
                foreach (var file in FileOption().Matches(line).Select(m => m.Groups[1].Value))
                {
                    var path = Path.Combine(folder, file);
                    Assert.True(File.Exists(path), $"{block}: {file} does not exist (in {folder})");
                    if (!file.EndsWith(".yaml", StringComparison.Ordinal)) continue;
                    var documents = LoadAll(path);
                    Assert.NotEmpty(documents);
                    if (!line.TrimStart().StartsWith("kubectl", StringComparison.Ordinal)) continue;
                    Assert.All(documents, d => Assert.True(d.ContainsKey("apiVersion") && d.ContainsKey("kind") && Map(d, "metadata").ContainsKey("name"),
                        $"{file}: a document without apiVersion, kind or metadata.name"));
                    Assert.DoesNotContain(documents, d => (string)d["kind"] == "Secret");
                }
            }
        }
    }

    [GeneratedRegex(@"\s-f\s+(\S+)")]
    private static partial Regex FileOption();
}
