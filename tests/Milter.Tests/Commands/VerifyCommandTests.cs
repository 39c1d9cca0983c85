using System.Text.Json;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter verify` through the CLI (in process, see CliProcessTests); key records served by Knot on loopback.</summary>
[Collection(AuthCliCollection.Name)]
public sealed class VerifyCommandTests(AuthCliFixture lab)
{
    private const string Message =
        "From: Alice <alice@auth.test>\n" +
        "To: Bob <bob@example.org>\n" +
        "Subject: checking signatures\n" +
        "Date: Tue, 25 Nov 2025 10:00:00 +0000\n" +
        "Message-ID: <verify-1@auth.test>\n" +
        "\n" +
        "Hello Bob,\n" +
        "this message is signed.\n";

    private Task<(int ExitCode, string StdOut, string StdErr)> VerifyAsync(string stdin, params string[] extra) =>
        MilterDaemon.RunCliAsync(["verify", "--authserv-id", "mx.verify.test", .. lab.DnsArgs, .. extra], stdin);

    private static string Lf(string crlf) => crlf.Replace("\r\n", "\n", StringComparison.Ordinal);

    private static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData("rsa", "rsa-sha256")]
    [InlineData("ed", "ed25519-sha256")]
    public async Task A_good_signature_passes_from_bare_LF_input(string selector, string algorithm)
    {
        var (code, stdout, stderr) = await VerifyAsync(Lf(lab.Sign(Message, selector)));
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(stdout);
        Assert.Equal($"dkim=pass d=auth.test s={selector} a={algorithm}", lines[0]);
        Assert.StartsWith($"Authentication-Results: mx.verify.test; dkim=pass header.d=auth.test header.i=@auth.test header.s={selector}",
            string.Join(' ', lines[1..]).Replace("\t", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains($"header.a={algorithm}", stdout, StringComparison.Ordinal);
        Assert.Contains("header.b=", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tampered_body_fails_with_exit_1()
    {
        var signed = lab.Sign(Message, "rsa").Replace("this message is signed.", "this message was changed.", StringComparison.Ordinal);
        var (code, stdout, _) = await VerifyAsync(signed);
        Assert.Equal(1, code);
        Assert.StartsWith("dkim=fail d=auth.test s=rsa a=rsa-sha256 reason=\"", Lines(stdout)[0], StringComparison.Ordinal);
        // The reason makes the header long: it is folded before the clause.
        Assert.Contains("Authentication-Results: mx.verify.test; dkim=fail", stdout.Replace("\n\t", " ", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unsigned_message_is_none_with_exit_1()
    {
        var (code, stdout, _) = await VerifyAsync(Message);
        Assert.Equal(1, code);
        Assert.Equal(["dkim=none (the message has no DKIM-Signature)", "Authentication-Results: mx.verify.test; dkim=none"], Lines(stdout));
    }

    [Fact]
    public async Task One_pass_among_failures_is_exit_0_and_every_signature_is_listed()
    {
        // The Ed25519 signature is made first and then broken; the RSA one covers the broken header as it is.
        var edSigned = lab.Sign(Message, "ed");
        var broken = edSigned.Replace("b=", "b=AAAA", StringComparison.Ordinal);
        var both = lab.Sign(broken, "rsa");
        var (code, stdout, stderr) = await VerifyAsync(both);
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(stdout);
        Assert.Equal("dkim=pass d=auth.test s=rsa a=rsa-sha256", lines[0]);
        Assert.StartsWith("dkim=fail d=auth.test s=ed a=ed25519-sha256", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dns_server_that_never_answers_is_temperror_with_exit_3()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(
            ["verify", "--authserv-id", "mx.verify.test", "--dns", $"127.0.0.1:{blackhole.Port}"], lab.Sign(Message, "rsa"));
        Assert.Equal(3, code);
        Assert.StartsWith("dkim=temperror d=auth.test s=rsa a=rsa-sha256 reason=", Lines(stdout)[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_is_one_object_with_dkim_entries_and_the_header()
    {
        var (code, stdout, stderr) = await VerifyAsync(lab.Sign(Message, "rsa"), "--json");
        Assert.True(code == 0, stdout + stderr);
        var line = Assert.Single(Lines(stdout));
        var root = JsonDocument.Parse(line).RootElement;
        Assert.Equal(["dkim", "arc", "authenticationResults"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("{\"result\":\"none\",\"oldestPass\":null,\"sealers\":[],\"reason\":null}", root.GetProperty("arc").GetRawText());
        var entry = Assert.Single(root.GetProperty("dkim").EnumerateArray());
        Assert.Equal(["result", "domain", "selector", "algorithm", "headerI", "reason"], entry.EnumerateObject().Select(p => p.Name));
        Assert.Equal("pass", entry.GetProperty("result").GetString());
        Assert.Equal("auth.test", entry.GetProperty("domain").GetString());
        Assert.Equal("rsa", entry.GetProperty("selector").GetString());
        Assert.Equal("rsa-sha256", entry.GetProperty("algorithm").GetString());
        Assert.Equal("@auth.test", entry.GetProperty("headerI").GetString());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("reason").ValueKind);
        var header = root.GetProperty("authenticationResults").GetString()!;
        Assert.StartsWith("Authentication-Results: mx.verify.test; dkim=pass header.d=auth.test header.i=@auth.test header.s=rsa header.a=rsa-sha256 header.b=", header, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", header, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_for_an_unsigned_message_has_an_empty_dkim_array()
    {
        var (code, stdout, _) = await VerifyAsync(Message, "--json");
        Assert.Equal(1, code);
        Assert.Equal("{\"dkim\":[],\"arc\":{\"result\":\"none\",\"oldestPass\":null,\"sealers\":[],\"reason\":null},"
            + "\"authenticationResults\":\"Authentication-Results: mx.verify.test; dkim=none\"}", stdout.Trim());
    }

    [Fact]
    public async Task A_bad_authserv_id_is_exit_2()
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["verify", "--authserv-id", "bad id;", .. lab.DnsArgs], Message);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("milter: verify: --authserv-id: authserv-id 'bad id;' is not valid", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Input_over_the_size_limit_is_bad_input_exit_2()
    {
        // 64 MiB is the limit (CliStdin.MaxMessageBytes); issue 13: this was exit 1, as if the message had been checked.
        var big = Message + new string('x', 64 * 1024 * 1024);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["verify", "--authserv-id", "mx.verify.test", .. lab.DnsArgs], big, timeout: TimeSpan.FromSeconds(120));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("larger than", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "the input is empty")]
    [InlineData("\0\u0001\u0002PK\u0003\u0004 junk", "NUL byte at offset 0")]
    [InlineData("hello, this is just text\nand more text\n", "the first line is not a header field")]
    [InlineData("\nFrom: a@b.test\n", "starts with an empty line")]
    public async Task Input_that_is_not_a_message_is_exit_2_not_an_unsigned_message(string stdin, string why)
    {
        // Issue 20: empty input or junk printed dkim=none (exit 1), as for a real unsigned message.
        var (code, stdout, stderr) = await VerifyAsync(stdin);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("milter: verify: standard input is not a message: ", line, StringComparison.Ordinal);
        Assert.Contains(why, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_header_block_without_a_body_is_a_message()
    {
        // RFC 5322 section 3.5: the body (and the empty line before it) is optional.
        var (code, stdout, stderr) = await VerifyAsync("From: Alice <alice@auth.test>\nSubject: no body\n");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("", stderr);
        Assert.StartsWith("dkim=none (the message has no DKIM-Signature)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_terminal_on_stdin_is_told_what_is_awaited()
    {
        // Issue 20: with a terminal on stdin, verify waited silently. `script` (util-linux) gives it a pseudo-terminal;
        // Ctrl-D on the terminal ends the (empty) input.
        if (!File.Exists("/usr/bin/script")) Assert.Fail("/usr/bin/script (util-linux/bsdutils) is needed for this test");
        var command = $"dotnet '{MilterDaemon.MilterDll}' verify --authserv-id mx.verify.test {string.Join(' ', lab.DnsArgs)}";
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var text = new System.Text.StringBuilder();
        var buffer = new char[256];
        try
        {
            // Ctrl-D once the prompt is out: the terminal is then set up and verify is reading.
            while (!text.ToString().Contains("Ctrl-D to end)", StringComparison.Ordinal))
            {
                var n = await p.StandardOutput.ReadAsync(buffer, cts.Token);
                if (n == 0) break;
                text.Append(buffer, 0, n);
            }
            // A Ctrl-D typed while .NET is still setting up the terminal for reading can be lost with the mode
            // change (a person types it after seeing the prompt, later): type it again each second until verify ends.
            var rest = p.StandardOutput.ReadToEndAsync(cts.Token);
            while (!p.HasExited)
            {
                try
                {
                    await p.StandardInput.WriteAsync("\u0004");
                    await p.StandardInput.FlushAsync(cts.Token);
                }
                catch (IOException)
                {
                    // script has ended and closed its input.
                }
                try { await p.WaitForExitAsync(cts.Token).WaitAsync(TimeSpan.FromSeconds(1), cts.Token); }
                catch (TimeoutException) { }
            }
            text.Append(await rest);
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("verify under script did not finish in 60 s: " + text);
        }
        Assert.Contains("reading a message from standard input (Ctrl-D to end)", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("standard input is not a message: the input is empty", text.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, p.ExitCode);
    }
}
