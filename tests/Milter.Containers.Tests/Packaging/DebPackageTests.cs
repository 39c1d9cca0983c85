using Milter.TestKit;
using Xunit.Abstractions;

namespace Milter.Containers.Tests.Packaging;

/// <summary>packaging/deb/build.sh's package: its contents and control files, and lintian finds no error.</summary>
[Collection(PackagingCollection.Name)]
public sealed class DebPackageTests(DebPackage package, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Holds_the_binary_the_unit_and_the_config_as_a_conffile()
    {
        var contents = (await ProcessRunner.RunAsync("/usr/bin/dpkg-deb", ["-c", package.DebPath], Timeout)).EnsureSuccess("dpkg-deb -c").StdOut;
        Assert.Contains("./usr/lib/milter/milter\n", contents);
        Assert.Contains("./usr/bin/milter -> ../lib/milter/milter", contents);
        Assert.Contains("./lib/systemd/system/milter.service\n", contents);
        Assert.Contains("./etc/milter/milter.json\n", contents);
        var conffiles = (await ProcessRunner.RunAsync("/usr/bin/dpkg-deb", ["-I", package.DebPath, "conffiles"], Timeout)).EnsureSuccess("dpkg-deb -I conffiles").StdOut;
        Assert.Equal("/etc/milter/milter.json", conffiles.Trim());
        var info = (await ProcessRunner.RunAsync("/usr/bin/dpkg-deb", ["-I", package.DebPath], Timeout)).EnsureSuccess("dpkg-deb -I").StdOut;
        output.WriteLine(info);
        Assert.Contains(" Package: milter\n", info);
        Assert.Contains(" Architecture: amd64\n", info);
        Assert.Contains(" postinst", info);
        Assert.Contains(" postrm", info);
    }

    [Fact]
    public async Task Lintian_finds_no_errors()
    {
        ProcessRunner.Require("/usr/bin/lintian", "lintian");
        var run = await ProcessRunner.RunAsync("/usr/bin/lintian", ["--tag-display-limit", "0", package.DebPath], Timeout);
        output.WriteLine(run.StdOut + run.StdErr);
        Assert.False(run.TimedOut, run.Describe());
        Assert.DoesNotContain("\nE: ", "\n" + run.StdOut);
        Assert.True(run.ExitCode == 0, run.Describe());
    }
}
