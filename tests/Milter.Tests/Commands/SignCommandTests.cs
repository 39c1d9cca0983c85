using System.Text;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter sign` through the CLI (in process, see CliProcessTests); the output is verified by dkimpy with the key
/// records (written by keygen) served by Knot.</summary>
[Collection(CliKeysCollection.Name)]
public sealed class SignCommandTests(CliKeysFixture keys)
{
    private const string Domain = CliKeysFixture.Domain;

    private const string Message =
        "From: Alice <alice@cli.test>\n" +
        "To: Bob <bob@example.org>\n" +
        "Subject: keys from the command line\n" +
        "Date: Tue, 25 Nov 2025 10:00:00 +0000\n" +
        "Message-ID: <cli-1@cli.test>\n" +
        "\n" +
        "Hello Bob,\n" +
        "\n" +
        "this message was signed by milter sign.  \n" +
        "\n\n";

    /// <summary>dkimpy's verdict on the one DKIM-Signature of <paramref name="message"/>, keys from Knot.</summary>
    private async Task<bool> DkimpyPassesAsync(byte[] message)
    {
        DkimPyVerification verification = await DkimPy.VerifyAsync(message, keys.Knot.Port);
        Assert.True(verification.Signatures.Count == 1, "dkimpy should find exactly one signature:\n" + verification.Output);
        return verification.Signatures[0].Pass;
    }

    private Task<(int ExitCode, string StdOut, string StdErr)> SignAsync(string selector, string stdin, params string[] extra) =>
        MilterDaemon.RunCliAsync(["sign", "--domain", Domain, "--selector", selector, "--key", keys.PrivateKey(selector), .. extra], stdin);

    [Theory]
    [InlineData("rsa1", "rsa-sha256", "relaxed/relaxed")]
    [InlineData("rsa1", "rsa-sha256", "simple/simple")]
    [InlineData("ed1", "ed25519-sha256", "relaxed/relaxed")]
    [InlineData("ed1", "ed25519-sha256", "relaxed/simple")]
    public async Task Signed_output_verifies_with_dkimpy_and_a_tampered_copy_does_not(string selector, string algorithm, string canonicalization)
    {
        var (code, stdout, stderr) = await SignAsync(selector, Message, "--algorithm", algorithm, "--canonicalization", canonicalization);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("", stderr);

        Assert.StartsWith("DKIM-Signature: v=1; a=" + algorithm + "; c=" + canonicalization + "; d=cli.test; s=" + selector + ";",
            stdout, StringComparison.Ordinal);
        // The message follows the signature unchanged except for CRLF line ends.
        var crlf = Message.Replace("\n", "\r\n", StringComparison.Ordinal);
        Assert.EndsWith("\r\n" + crlf, stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\r\r", stdout, StringComparison.Ordinal);
        Assert.Equal(stdout.Split('\n').Length - 1, stdout.Split("\r\n").Length - 1); // no bare LF

        var signed = Encoding.ASCII.GetBytes(stdout);
        Assert.True(await DkimpyPassesAsync(signed), "dkimpy rejected:\n" + stdout);

        var tampered = Encoding.ASCII.GetBytes(stdout.Replace("signed by milter sign", "signed by someone else", StringComparison.Ordinal));
        Assert.False(await DkimpyPassesAsync(tampered));
    }

    [Fact]
    public async Task Headers_option_chooses_the_signed_fields()
    {
        var (code, stdout, stderr) = await SignAsync("rsa1", Message, "--headers", "From:Subject");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("h=From:Subject:From;", stdout.Replace("\r\n ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.True(await DkimpyPassesAsync(Encoding.ASCII.GetBytes(stdout)));
        // To is not signed, so changing it keeps the signature valid; changing Subject breaks it.
        var toChanged = stdout.Replace("To: Bob <bob@example.org>", "To: Carol <carol@example.org>", StringComparison.Ordinal);
        Assert.True(await DkimpyPassesAsync(Encoding.ASCII.GetBytes(toChanged)));
        var subjectChanged = stdout.Replace("Subject: keys", "Subject: KEYS", StringComparison.Ordinal);
        Assert.False(await DkimpyPassesAsync(Encoding.ASCII.GetBytes(subjectChanged)));
    }

    [Theory]
    [InlineData("just some text without a colon\nand more\n", "milter: sign: the input has no header fields")]
    [InlineData("\nbody only\n", "milter: sign: the input has no header fields")]
    [InlineData("To: bob@example.org\nSubject: x\n\nbody\n", "milter: sign: the message has no From header field")]
    public async Task A_message_without_a_usable_header_exits_1(string input, string expected)
    {
        var (code, stdout, stderr) = await SignAsync("rsa1", input);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_key_file_exits_2_with_one_line_naming_it()
    {
        using var dir = new TempDir("sign");
        var bad = dir.File("bad.private");
        File.WriteAllText(bad, "not a key\n");
        TempDir.SetMode(bad, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["sign", "--domain", Domain, "--selector", "rsa1", "--key", bad], Message);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"milter: sign: key file {bad}: ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--algorithm", "ed25519-sha256", "--algorithm ed25519-sha256 does not fit key file")]
    [InlineData("--canonicalization", "loose/relaxed", "--canonicalization must be simple or relaxed")]
    [InlineData("--headers", "To:Subject", "--headers must include From")]
    public async Task Bad_options_exit_2(string option, string value, string expected)
    {
        var (code, stdout, stderr) = await SignAsync("rsa1", Message, option, value);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }
}
