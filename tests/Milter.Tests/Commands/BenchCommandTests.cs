using System.Text.Json;
using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter bench` through the real executable against a real `milter run` signing with the SigningLab
/// keys (Knot serves the public keys for verify mode). No timing assertions: only counts.</summary>
public sealed class BenchCommandTests
{
    private static Task<(int ExitCode, string StdOut, string StdErr)> BenchAsync(params string[] args) =>
        MilterDaemon.RunCliAsync(["bench", .. args], timeout: TimeSpan.FromSeconds(120));

    private static async Task<(SigningLab Lab, MilterDaemon Daemon, string Spec)> StartAsync(bool unix = false)
    {
        var lab = await SigningLab.StartAsync(ed25519: false);
        var spec = unix ? "unix:" + lab.Dir.File("milter.sock") : $"inet:{FreePort.Next()}@127.0.0.1";
        var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", spec]);
        return (lab, daemon, spec);
    }

    private static JsonElement Json(string stdout)
    {
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return JsonDocument.Parse(line).RootElement;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sign_mode_every_message_gets_a_DKIM_signature(bool unix)
    {
        var (lab, daemon, spec) = await StartAsync(unix);
        await using var _ = lab;
        await using var __ = daemon;
        var (code, stdout, stderr) = await BenchAsync("--connect", spec, "--messages", "200", "--concurrency", "4",
            "--size", "2048", "--mode", "sign", "--domain", SigningLab.Domain, "--json");
        Assert.True(code == 0, stdout + stderr + daemon.Output);
        var json = Json(stdout);
        Assert.Equal("sign", json.GetProperty("mode").GetString());
        Assert.Equal(200, json.GetProperty("completed").GetInt32());
        Assert.Equal(0, json.GetProperty("errors").GetInt32());
        Assert.Equal(0, json.GetProperty("nonContinue").GetInt32());
        Assert.Equal(200, json.GetProperty("verdicts").GetProperty("continue").GetInt32());
        Assert.Equal(200, json.GetProperty("dkimSignatureInserted").GetInt32());
        Assert.Equal(200, json.GetProperty("authenticationResultsInserted").GetInt32());
        Assert.True(json.GetProperty("messagesPerSecond").GetDouble() > 0);
        var latency = json.GetProperty("latencyMs");
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p95").GetDouble());
        Assert.True(latency.GetProperty("p95").GetDouble() <= latency.GetProperty("p99").GetDouble());
        // The daemon logged each of them as signed.
        Assert.Equal(200, CountOccurrences(daemon.Output, "verdict=continue signed=example.test/rsa/rsa-sha256"));
    }

    [Fact]
    public async Task Verify_mode_sends_presigned_mail_from_outside_and_gets_Authentication_Results_without_signing()
    {
        var (lab, daemon, spec) = await StartAsync();
        await using var _ = lab;
        await using var __ = daemon;
        var (code, stdout, stderr) = await BenchAsync("--connect", spec, "--messages", "100", "--concurrency", "3",
            "--size", "4096", "--mode", "verify", "--domain", SigningLab.Domain, "--selector", "rsa", "--key", lab.RsaKeyFile);
        Assert.True(code == 0, stdout + stderr + daemon.Output);
        Assert.Contains("errors       0\n", stdout, StringComparison.Ordinal);
        Assert.Contains("verdicts     continue 100 (non-continue 0)", stdout, StringComparison.Ordinal);
        Assert.Contains("DKIM-Signature added to 0, Authentication-Results added to 100", stdout, StringComparison.Ordinal);
        Assert.Contains("client=unknown[192.0.2.1]", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eml_directory_messages_are_sent_as_they_are()
    {
        var (lab, daemon, spec) = await StartAsync();
        await using var _ = lab;
        await using var __ = daemon;
        var dir = lab.Dir.Sub("eml");
        await File.WriteAllTextAsync(Path.Combine(dir, "a.eml"), "From: a@example.test\nTo: b@example.org\nSubject: one\n\nbody one\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "b.eml"), "From: c@other.test\nTo: b@example.org\nSubject: two\n\nbody two\n");
        var (code, stdout, stderr) = await BenchAsync("--connect", spec, "--messages", "10", "--concurrency", "2", "--eml-dir", dir, "--json");
        Assert.True(code == 0, stdout + stderr);
        var json = Json(stdout);
        // Only the example.test messages have a key: half of them are signed.
        Assert.Equal(5, json.GetProperty("dkimSignatureInserted").GetInt32());
        Assert.Equal(10, json.GetProperty("authenticationResultsInserted").GetInt32());
    }

    [Fact]
    public async Task Progress_goes_to_stderr_as_plain_lines_when_it_is_not_a_terminal()
    {
        // Issue 20 item 5: bench printed nothing until it ended.
        var (lab, daemon, spec) = await StartAsync();
        await using var _ = lab;
        await using var __ = daemon;
        var (code, stdout, stderr) = await BenchAsync("--connect", spec, "--messages", "200", "--concurrency", "2",
            "--mode", "sign", "--domain", SigningLab.Domain, "--json", "--progress", "1");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(200, Json(stdout).GetProperty("completed").GetInt32());
        Assert.DoesNotContain('\r', stderr);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 2, stderr);
        Assert.All(lines, l => Assert.Matches(@"^bench: \d+/200 messages, (starting|\d+ errors?, \d+\.\d messages/s, \d+\.\d s)$", l));
        Assert.StartsWith("bench: 200/200 messages, 0 errors, ", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_zero_prints_none()
    {
        var (lab, daemon, spec) = await StartAsync();
        await using var _ = lab;
        await using var __ = daemon;
        var (code, stdout, stderr) = await BenchAsync("--connect", spec, "--messages", "20", "--domain", SigningLab.Domain, "--progress", "0");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Progress_on_a_terminal_is_one_live_line_rewritten_in_place()
    {
        // `script` (util-linux) gives bench a pseudo-terminal, as VerifyCommandTests does for verify.
        if (!File.Exists("/usr/bin/script")) Assert.Fail("/usr/bin/script (util-linux/bsdutils) is needed for this test");
        var (lab, daemon, spec) = await StartAsync();
        await using var _ = lab;
        await using var __ = daemon;
        var command = $"dotnet '{MilterDaemon.MilterDll}' bench --connect '{spec}' --messages 200 --concurrency 2 --domain {SigningLab.Domain} --json";
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        string text;
        try
        {
            text = await p.StandardOutput.ReadToEndAsync(cts.Token);
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("bench under script did not finish in 120 s");
        }
        Assert.True(p.ExitCode == 0, text);
        // Every progress update starts with a carriage return (rewritten in place); the last one is ended by a newline.
        var at = text.IndexOf("bench: ", StringComparison.Ordinal);
        Assert.True(at > 0, text);
        for (; at >= 0; at = text.IndexOf("bench: ", at + 1, StringComparison.Ordinal))
            Assert.True(text[at - 1] == '\r', text);
        Assert.Matches(@"\rbench: 200/200 messages, 0 errors, [^\r\n]*\r?\n", text);
        Assert.Contains("\"completed\":200", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_filter_that_is_not_there_is_exit_1_with_one_line()
    {
        var port = FreePort.Next();
        var (code, stdout, stderr) = await BenchAsync("--connect", $"inet:{port}@127.0.0.1", "--messages", "5", "--domain", "example.test");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"milter: bench: cannot reach a milter at inet:{port}@127.0.0.1", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--messages 5 --domain example.test", "bench: --connect is required")]
    [InlineData("--connect inet:1@127.0.0.1 --mode fast --domain example.test", "bench: --mode must be sign or verify, not 'fast'")]
    [InlineData("--connect inet:1@127.0.0.1 --messages 0 --domain example.test", "bench: --messages must be a number from 1")]
    [InlineData("--connect inet:1@127.0.0.1 --concurrency x --domain example.test", "bench: --concurrency must be a number from 1")]
    [InlineData("--connect inet:1@127.0.0.1 --size 10 --domain example.test", "bench: --size must be a number from 256")]
    [InlineData("--connect tcp:1 --domain example.test", "bench: --connect tcp:1:")]
    [InlineData("--connect inet:1@127.0.0.1", "bench: --domain is required")]
    [InlineData("--connect inet:1@127.0.0.1 --mode verify --domain example.test", "bench: --mode verify needs --key")]
    [InlineData("--connect inet:1@127.0.0.1 --domain example.test --client-ip nowhere", "bench: --client-ip 'nowhere' is not an IP address")]
    [InlineData("--connect inet:1@127.0.0.1 --domain example.test --speed 3", "bench: unknown option --speed")]
    [InlineData("--connect inet:1@127.0.0.1 --eml-dir /nonexistent-bench-dir", "bench: --eml-dir /nonexistent-bench-dir is not a directory")]
    public async Task Bad_options_exit_2_with_one_line(string args, string expected)
    {
        var (code, stdout, stderr) = await BenchAsync(args.Split(' '));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("milter: " + expected, line, StringComparison.Ordinal);
    }

    private static int CountOccurrences(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
