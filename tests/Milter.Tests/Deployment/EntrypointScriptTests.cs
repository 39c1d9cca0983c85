using Milter.TestKit;

namespace Milter.Tests.Deployment;

/// <summary>docker/postfix/entrypoint.sh outside Docker: shellcheck-clean, refuses bad settings with one clear
/// line, and `configure` turns a stock Debian master.cf into the container's config.</summary>
public sealed class EntrypointScriptTests
{
    public const string ShellcheckPath = "/usr/bin/shellcheck";

    public static IEnumerable<object[]> Scripts() =>
        new[] { "docker/postfix/entrypoint.sh", "test.sh", "fuzz/run.sh", "fuzz/run-all.sh",
                "packaging/deb/build.sh", "packaging/deb/postinst", "packaging/deb/postrm", "packaging/deb/prerm" }.Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Scripts))]
    public async Task Shellcheck_passes(string script)
    {
        ProcessRunner.Require(ShellcheckPath, "shellcheck");
        var result = await ProcessRunner.RunAsync(ShellcheckPath, ["--norc", "-x", RepoFiles.PathOf(script)], TimeSpan.FromSeconds(60));
        Assert.True(result.Succeeded, result.Describe());
    }

    [Fact]
    public void Every_shell_script_in_docker_and_packaging_is_shellchecked()
    {
        var scripts = new[] { "docker", "packaging" }
            .SelectMany(d => Directory.EnumerateFiles(RepoFiles.PathOf(d), "*", SearchOption.AllDirectories))
            .Where(f => File.ReadLines(f).FirstOrDefault()?.StartsWith("#!", StringComparison.Ordinal) == true)
            .Select(f => Path.GetRelativePath(RepoFiles.Root, f).Replace('\\', '/'));
        Assert.Equal(["docker/postfix/entrypoint.sh", "packaging/deb/build.sh", "packaging/deb/postinst", "packaging/deb/postrm",
            "packaging/deb/prerm"], scripts.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("mailhub", "", "unknown role 'mailhub'")]
    [InlineData("inbound", "", "role inbound needs RELAY_DOMAINS")]
    [InlineData("relay inbound", "", "use relay or inbound, not both")]
    [InlineData("submission", "", "role submission needs relay or inbound")]
    [InlineData("relay", "bad\nvalue", "RELAYHOST must be one line")]
    public async Task Render_refuses_bad_settings_with_a_clear_message(string roles, string relayhost, string expected)
    {
        using var dir = new TempDir("render");
        var result = await PostfixEntrypoint.RunAsync(new Dictionary<string, string>
        {
            ["POSTFIX_ROLES"] = roles, ["RELAYHOST"] = relayhost, ["MYHOSTNAME"] = "relay.example.test",
        }, "render", dir.Path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("entrypoint: " + expected, result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Render_fills_every_token_and_derives_the_domain_from_the_host_name()
    {
        using var dir = new TempDir("render");
        var (main, master) = await PostfixEntrypoint.RenderAsync(dir.Path, new Dictionary<string, string>
        {
            ["POSTFIX_ROLES"] = "relay submission", ["MYHOSTNAME"] = "relay.example.com", ["RELAYHOST"] = "[smtp.example.net]:587",
        });
        Assert.DoesNotContain("@", string.Concat(main.Split('\n').Where(l => !l.StartsWith('#'))), StringComparison.Ordinal);
        Assert.Contains("\nmydomain = example.com\n", main, StringComparison.Ordinal);
        Assert.Contains("\nrelayhost = [smtp.example.net]:587\n", main, StringComparison.Ordinal);
        Assert.Contains("smtpd_milters = { inet:milter:8891, default_action=tempfail,", main, StringComparison.Ordinal);
        Assert.Contains("\nsmtp inet n - n - - smtpd\n", master, StringComparison.Ordinal);
        Assert.Contains("\nsubmission inet n - n - - smtpd\n", master, StringComparison.Ordinal);
        Assert.Contains("-o smtpd_tls_security_level=encrypt\n", master, StringComparison.Ordinal);
        Assert.Contains("-o smtpd_tls_auth_only=yes\n", master, StringComparison.Ordinal);
    }

    /// <summary>The container path: the stock master.cf (as the Debian package installs it) plus the base main.cf.</summary>
    [Fact]
    public async Task Configure_builds_the_container_config_from_the_stock_master_cf()
    {
        const string stock = "/usr/share/postfix/master.cf.dist";
        ProcessRunner.Require(stock, "postfix");
        using var dir = new TempDir("configure");
        File.Copy(stock, dir.File("master.cf"));
        var result = await PostfixEntrypoint.RunAsync(new Dictionary<string, string>
        {
            ["MYHOSTNAME"] = "relay.example.com", ["POSTFIX_MILTER"] = "unix:/run/milter/milter.sock",
        }, "configure", dir.Path);
        Assert.True(result.Succeeded, result.Describe());

        var postconf = await ProcessRunner.RunAsync("/usr/sbin/postconf", ["-c", dir.Path, "-n"], TimeSpan.FromSeconds(30));
        Assert.True(postconf.Succeeded, postconf.Describe());
        Assert.DoesNotContain("warning", postconf.StdErr, StringComparison.Ordinal); // no parameter set twice
        Assert.Contains("maillog_file = /dev/stdout\n", postconf.StdOut, StringComparison.Ordinal);
        Assert.Contains("non_smtpd_milters = $smtpd_milters\n", postconf.StdOut, StringComparison.Ordinal);
        Assert.Contains("smtpd_milters = { unix:/run/milter/milter.sock, default_action=tempfail,", postconf.StdOut, StringComparison.Ordinal);

        var services = await ProcessRunner.RunAsync("/usr/sbin/postconf", ["-c", dir.Path, "-M"], TimeSpan.FromSeconds(30));
        var lines = services.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.StartsWith("smtp ", StringComparison.Ordinal) && l.Contains(" inet ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("postlog ", StringComparison.Ordinal)); // maillog_file needs postlogd
        Assert.All(lines, l => Assert.Equal("n", l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4]));

        // Running configure again (a container restart) gives the same files.
        var first = File.ReadAllText(dir.File("master.cf")) + File.ReadAllText(dir.File("main.cf"));
        Assert.True((await PostfixEntrypoint.RunAsync(new Dictionary<string, string>
        {
            ["MYHOSTNAME"] = "relay.example.com", ["POSTFIX_MILTER"] = "unix:/run/milter/milter.sock",
        }, "configure", dir.Path)).Succeeded);
        Assert.Equal(first, File.ReadAllText(dir.File("master.cf")) + File.ReadAllText(dir.File("main.cf")));
    }
}
