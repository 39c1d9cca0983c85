using System.Text.Json;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter check` through the CLI (in process, see CliProcessTests): SPF, DKIM and DMARC against records served by Knot.</summary>
[Collection(DmarcCliCollection.Name)]
public sealed class CheckCommandTests(DmarcCliFixture lab)
{
    private const string Allowed = "192.0.2.10", Foreign = "203.0.113.9";

    private static string Message(string from) =>
        $"From: Alice <alice@{from}>\n" +
        "To: Bob <bob@example.net>\n" +
        "Subject: the whole inbound evaluation\n" +
        "Date: Tue, 25 Nov 2025 10:00:00 +0000\n" +
        "Message-ID: <check-1@example.net>\n" +
        "\n" +
        "Hello Bob.\n";

    private Task<(int ExitCode, string StdOut, string StdErr)> CheckAsync(string stdin, string ip, string mailFrom, params string[] extra) =>
        MilterDaemon.RunCliAsync(["check", "--client-ip", ip, "--helo", "mail.org.dmarctld", "--mail-from", mailFrom,
            "--authserv-id", "mx.check.test", .. lab.DnsArgs, .. extra], stdin);

    /// <summary>The header of a --json run, on one line.</summary>
    private async Task<(int ExitCode, JsonElement Root, string Header)> CheckJsonAsync(string stdin, string ip, string mailFrom)
    {
        var (code, stdout, stderr) = await CheckAsync(stdin, ip, mailFrom, "--json");
        Assert.True(stderr.Length == 0, stderr);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        return (code, root, root.GetProperty("authenticationResults").GetString()!);
    }

    private static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task An_aligned_dkim_pass_is_dmarc_pass_even_when_spf_fails()
    {
        var (code, root, header) = await CheckJsonAsync(lab.Sign(Message("org.dmarctld"), "org.dmarctld"), Foreign, "alice@org.dmarctld");
        Assert.Equal(0, code);
        Assert.StartsWith("Authentication-Results: mx.check.test; spf=fail (", header, StringComparison.Ordinal);
        Assert.Contains(") smtp.mailfrom=alice@org.dmarctld smtp.helo=mail.org.dmarctld; dkim=pass header.d=org.dmarctld header.i=@org.dmarctld header.s=rsa header.a=rsa-sha256 header.b=",
            header, StringComparison.Ordinal);
        Assert.EndsWith("; dmarc=pass (p=reject dis=none) header.from=org.dmarctld policy.dmarc=reject", header, StringComparison.Ordinal);
        Assert.Equal("pass", root.GetProperty("dmarc").GetProperty("result").GetString());
    }

    [Fact]
    public async Task An_spf_pass_of_a_subdomain_aligns_relaxed_without_a_signature()
    {
        var (code, stdout, stderr) = await CheckAsync(Message("org.dmarctld"), Allowed, "bounce@mail.org.dmarctld");
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(stdout);
        Assert.Equal("spf=pass smtp.mailfrom=bounce@mail.org.dmarctld domain=mail.org.dmarctld", lines[0]);
        Assert.Contains("dkim=none (the message has no DKIM-Signature)", lines);
        Assert.Contains("dmarc=pass header.from=org.dmarctld policy=p=reject disposition=none record=_dmarc.org.dmarctld", lines);
        Assert.Contains("  reason: SPF mail.org.dmarctld aligned (r)", lines);
        var header = stdout[stdout.IndexOf("Authentication-Results:", StringComparison.Ordinal)..].Replace("\n\t", " ", StringComparison.Ordinal);
        Assert.Equal("Authentication-Results: mx.check.test; spf=pass smtp.mailfrom=bounce@mail.org.dmarctld smtp.helo=mail.org.dmarctld; " +
            "dkim=none; dmarc=pass (p=reject dis=none) header.from=org.dmarctld policy.dmarc=reject\n", header);
    }

    [Fact]
    public async Task An_unaligned_signature_and_an_spf_fail_are_dmarc_fail_with_the_reject_policy()
    {
        var (code, root, header) = await CheckJsonAsync(lab.Sign(Message("org.dmarctld"), "other.dmarctld"), Foreign, "alice@org.dmarctld");
        Assert.Equal(1, code);
        Assert.Contains("; dkim=pass header.d=other.dmarctld header.i=@other.dmarctld", header, StringComparison.Ordinal);
        Assert.EndsWith("; dmarc=fail (p=reject dis=reject) header.from=org.dmarctld policy.dmarc=reject", header, StringComparison.Ordinal);
        var dmarc = root.GetProperty("dmarc");
        Assert.Equal("fail", dmarc.GetProperty("result").GetString());
        Assert.Equal("reject", dmarc.GetProperty("policy").GetString());
        Assert.Equal("reject", dmarc.GetProperty("disposition").GetString());
    }

    [Fact]
    public async Task An_unsigned_message_from_a_subdomain_fails_with_the_subdomain_policy()
    {
        var (code, stdout, _) = await CheckAsync(Message("sub.org.dmarctld"), Foreign, "alice@sub.org.dmarctld");
        Assert.Equal(1, code);
        var lines = Lines(stdout);
        Assert.Equal("spf=none smtp.mailfrom=alice@sub.org.dmarctld domain=sub.org.dmarctld", lines[0]);
        Assert.Contains("dkim=none (the message has no DKIM-Signature)", lines);
        Assert.Contains("dmarc=fail header.from=sub.org.dmarctld policy=sp=quarantine disposition=quarantine record=_dmarc.org.dmarctld", lines);
        Assert.Contains("dmarc=fail (sp=quarantine dis=quarantine) header.from=sub.org.dmarctld", stdout.Replace("\n\t", " ", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_null_sender_checks_the_helo_identity_which_aligns()
    {
        var (code, root, header) = await CheckJsonAsync(Message("org.dmarctld"), Allowed, "<>");
        Assert.Equal(0, code);
        Assert.StartsWith("Authentication-Results: mx.check.test; spf=pass smtp.helo=mail.org.dmarctld; dkim=none; dmarc=pass", header, StringComparison.Ordinal);
        Assert.Equal("mail.org.dmarctld", root.GetProperty("spf").GetProperty("domain").GetString());
    }

    [Theory]
    [InlineData(Allowed, 0, "spf=pass")]
    [InlineData(Foreign, 1, "spf=fail")]
    public async Task Without_a_dmarc_record_spf_or_dkim_decides_the_exit_code(string ip, int exit, string spf)
    {
        var (code, root, header) = await CheckJsonAsync(Message("plain.nodmarc"), ip, "alice@plain.nodmarc");
        Assert.Equal(exit, code);
        Assert.StartsWith($"Authentication-Results: mx.check.test; {spf}", header, StringComparison.Ordinal);
        Assert.EndsWith("; dkim=none; dmarc=none header.from=plain.nodmarc", header, StringComparison.Ordinal);
        Assert.Equal("none", root.GetProperty("dmarc").GetProperty("result").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("dmarc").GetProperty("policy").ValueKind);
    }

    [Fact]
    public async Task A_message_without_from_is_dmarc_permerror()
    {
        var noFrom = Message("org.dmarctld").Replace("From: Alice <alice@org.dmarctld>\n", "", StringComparison.Ordinal);
        var (code, root, header) = await CheckJsonAsync(noFrom, Allowed, "alice@org.dmarctld");
        Assert.Equal(1, code);
        Assert.EndsWith("; dkim=none; dmarc=permerror reason=\"no From header\"", header, StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("dmarc").GetProperty("domain").ValueKind);
    }

    [Fact]
    public async Task Json_is_exactly_the_product_object()
    {
        var (code, root, header) = await CheckJsonAsync(lab.Sign(Message("org.dmarctld"), "org.dmarctld"), Allowed, "alice@org.dmarctld");
        Assert.Equal(0, code);
        Assert.Equal(["dkim", "spf", "dmarc", "arc", "authenticationResults"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["result", "oldestPass", "sealers", "reason"], root.GetProperty("arc").EnumerateObject().Select(p => p.Name));
        Assert.Equal("none", root.GetProperty("arc").GetProperty("result").GetString());

        var dkim = Assert.Single(root.GetProperty("dkim").EnumerateArray());
        Assert.Equal(["result", "domain", "selector", "algorithm", "headerI", "reason"], dkim.EnumerateObject().Select(p => p.Name));
        Assert.Equal("pass", dkim.GetProperty("result").GetString());
        Assert.Equal("org.dmarctld", dkim.GetProperty("domain").GetString());
        Assert.Equal("rsa", dkim.GetProperty("selector").GetString());
        Assert.Equal("rsa-sha256", dkim.GetProperty("algorithm").GetString());
        Assert.Equal("@org.dmarctld", dkim.GetProperty("headerI").GetString());
        Assert.Equal(JsonValueKind.Null, dkim.GetProperty("reason").ValueKind);

        var spf = root.GetProperty("spf");
        Assert.Equal(["result", "domain", "explanation"], spf.EnumerateObject().Select(p => p.Name));
        Assert.Equal("pass", spf.GetProperty("result").GetString());
        Assert.Equal("org.dmarctld", spf.GetProperty("domain").GetString());
        Assert.Equal(JsonValueKind.Null, spf.GetProperty("explanation").ValueKind);

        var dmarc = root.GetProperty("dmarc");
        Assert.Equal(["result", "domain", "policy", "disposition"], dmarc.EnumerateObject().Select(p => p.Name));
        Assert.Equal("pass", dmarc.GetProperty("result").GetString());
        Assert.Equal("org.dmarctld", dmarc.GetProperty("domain").GetString());
        Assert.Equal("reject", dmarc.GetProperty("policy").GetString());
        Assert.Equal("none", dmarc.GetProperty("disposition").GetString());

        Assert.StartsWith("Authentication-Results: mx.check.test; spf=pass smtp.mailfrom=alice@org.dmarctld smtp.helo=mail.org.dmarctld; " +
            "dkim=pass header.d=org.dmarctld header.i=@org.dmarctld header.s=rsa header.a=rsa-sha256 header.b=", header, StringComparison.Ordinal);
        Assert.EndsWith("; dmarc=pass (p=reject dis=none) header.from=org.dmarctld policy.dmarc=reject", header, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", header, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dns_server_that_never_answers_is_temperror_with_exit_3()
    {
        await using var blackhole = await BlackholeDnsServer.StartAsync();
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(
            ["check", "--client-ip", Allowed, "--helo", "mail.org.dmarctld", "--mail-from", "alice@org.dmarctld", "--authserv-id", "mx.check.test",
             "--dns", $"127.0.0.1:{blackhole.Port}", "--json"], Message("org.dmarctld"), timeout: TimeSpan.FromSeconds(150));
        Assert.Equal(3, code);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        Assert.Equal("temperror", root.GetProperty("spf").GetProperty("result").GetString());
        Assert.Equal("temperror", root.GetProperty("dmarc").GetProperty("result").GetString());
    }

    [Fact]
    public async Task A_dmarc_fail_that_a_timed_out_key_lookup_could_have_made_a_pass_is_exit_3()
    {
        // Only the key record goes unanswered: SPF fails, DMARC fails for want of an aligned pass.
        await using var proxy = await BlackholeDnsServer.StartAsync(lab.Knot.EndPoint, ["rsa._domainkey.org.dmarctld"]);
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(
            ["check", "--client-ip", Foreign, "--helo", "mail.org.dmarctld", "--mail-from", "alice@org.dmarctld", "--authserv-id", "mx.check.test",
             "--dns", $"127.0.0.1:{proxy.Port}", "--json"], lab.Sign(Message("org.dmarctld"), "org.dmarctld"), timeout: TimeSpan.FromSeconds(90));
        Assert.Equal(3, code);
        var root = JsonDocument.Parse(Assert.Single(Lines(stdout))).RootElement;
        Assert.Equal("temperror", Assert.Single(root.GetProperty("dkim").EnumerateArray()).GetProperty("result").GetString());
        Assert.Equal("fail", root.GetProperty("spf").GetProperty("result").GetString());
        Assert.Equal("fail", root.GetProperty("dmarc").GetProperty("result").GetString());
    }

    [Theory]
    [InlineData("--client-ip nowhere --helo h.test --mail-from a@b.test", "check: --client-ip 'nowhere' is not an IPv4 or IPv6 address")]
    [InlineData("--helo h.test --mail-from a@b.test", "check: --client-ip is required")]
    [InlineData("--client-ip 192.0.2.1 --mail-from a@b.test", "check: --helo is required")]
    [InlineData("--client-ip 192.0.2.1 --helo h.test", "check: --mail-from is required")]
    [InlineData("--client-ip 192.0.2.1 --helo h.test --mail-from a@b.test --authserv-id bad;id", "check: --authserv-id: authserv-id 'bad;id' is not valid")]
    public async Task Bad_usage_is_exit_2(string args, string expected)
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["check", .. args.Split(' '), .. lab.DnsArgs], Message("org.dmarctld"));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("milter: " + expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_input_is_exit_2_not_an_unsigned_message()
    {
        var (code, stdout, stderr) = await CheckAsync("\u0089PNG\r\n\u001a\n\0\0\0\rIHDR", Allowed, "bounce@mail.org.dmarctld");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("milter: check: standard input is not a message: it holds a NUL byte at offset", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_header_past_the_cap_is_exit_2_with_one_line_not_a_crash()
    {
        // 1.2 MB of header fields: past InboundPipeline.MaxHeaderBytes (the daemon answers such mail 552 5.3.4).
        var pad = string.Concat(Enumerable.Repeat("X-Pad: " + new string('y', 70) + "\r\n", 16_000));
        var (code, stdout, stderr) = await CheckAsync("From: a@org.dmarctld\r\n" + pad + "\r\nbody\r\n", Allowed, "bounce@mail.org.dmarctld");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("milter: check: the message header is larger than", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }
}
