using Milter.TestKit;
using Milter.Tests.Deployment;

namespace Milter.Tests.Packaging;

/// <summary>The shell scripts under packaging/ (the .deb builder and its maintainer scripts) pass shellcheck,
/// and every one of them is in the list.</summary>
public sealed class PackagingScriptTests
{
    private static readonly string[] Listed =
        ["packaging/deb/build.sh", "packaging/deb/postinst", "packaging/deb/postrm", "packaging/deb/prerm"];

    public static TheoryData<string> Scripts() => new(Listed);

    [Theory]
    [MemberData(nameof(Scripts))]
    public async Task Shellcheck_passes(string script)
    {
        ProcessRunner.Require(EntrypointScriptTests.ShellcheckPath, "shellcheck");
        var result = await ProcessRunner.RunAsync(EntrypointScriptTests.ShellcheckPath, ["--norc", "-x", RepoFiles.PathOf(script)], TimeSpan.FromSeconds(60));
        Assert.True(result.Succeeded, result.Describe());
    }

    [Fact]
    public void Every_shell_script_in_packaging_is_listed()
    {
        var scripts = Directory.EnumerateFiles(RepoFiles.PathOf("packaging"), "*", SearchOption.AllDirectories)
            .Where(f => File.ReadLines(f).FirstOrDefault()?.StartsWith("#!", StringComparison.Ordinal) == true)
            .Select(f => Path.GetRelativePath(RepoFiles.Root, f).Replace('\\', '/'));
        Assert.Equal(Listed, scripts.Order(StringComparer.Ordinal));
    }
}
