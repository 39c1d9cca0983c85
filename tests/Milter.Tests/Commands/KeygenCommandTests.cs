using System.Text.RegularExpressions;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter keygen` through the CLI (in process, see CliProcessTests).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class KeygenCommandTests
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex QuotedString();

    [Theory]
    [InlineData("rsa-sha256", "2048", "rsa", 2)]
    [InlineData("rsa-sha256", "4096", "rsa", 3)]
    [InlineData("ed25519-sha256", null, "ed25519", 1)]
    public async Task Keygen_writes_a_0600_key_and_a_split_txt_record(string algorithm, string? bits, string k, int strings)
    {
        using var dir = new TempDir("keygen");
        string[] args = ["keygen", "--domain", "example.com", "--selector", "s2026", "--algorithm", algorithm, "--directory", dir.Path];
        if (bits is not null) args = [.. args, "--bits", bits];
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(args);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("", stderr);

        var privatePath = dir.File("s2026.private");
        Assert.Equal(Mode0600, File.GetUnixFileMode(privatePath));
        var pem = File.ReadAllText(privatePath);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", pem, StringComparison.Ordinal);
        var loaded = DkimPrivateKey.Load(pem);
        Assert.True(loaded.Success, loaded.Error);
        using var key = loaded.Key!;
        Assert.Equal(algorithm, key.Algorithm);

        var txt = File.ReadAllText(dir.File("s2026.txt")).TrimEnd('\n');
        Assert.StartsWith("s2026._domainkey.example.com. IN TXT ( \"", txt, StringComparison.Ordinal);
        Assert.EndsWith("\" )", txt, StringComparison.Ordinal);
        var parts = QuotedString().Matches(txt).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(strings, parts.Count);
        Assert.All(parts, p => Assert.InRange(p.Length, 1, 255));
        Assert.Equal(key.PublicKeyRecord, string.Concat(parts));
        Assert.StartsWith($"v=DKIM1; k={k}; p=", key.PublicKeyRecord, StringComparison.Ordinal);

        Assert.Contains($"wrote {privatePath}", stdout, StringComparison.Ordinal);
        Assert.Contains($"wrote {dir.File("s2026.txt")}", stdout, StringComparison.Ordinal);
        Assert.Contains("s2026._domainkey.example.com", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keygen_refuses_to_overwrite_without_force_and_replaces_with_it()
    {
        using var dir = new TempDir("keygen");
        string[] args = ["keygen", "--domain", "example.com", "--selector", "s1", "--algorithm", "ed25519-sha256", "--directory", dir.Path];
        Assert.Equal(0, (await MilterDaemon.RunCliAsync(args)).ExitCode);
        var before = File.ReadAllText(dir.File("s1.private"));
        // A wider mode on the old file must not survive the replacement.
        TempDir.SetMode(dir.File("s1.private"), Mode0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal($"milter: keygen: {dir.File("s1.private")} already exists; use --force to replace it", stderr.Trim());
        Assert.Equal(before, File.ReadAllText(dir.File("s1.private")));

        (code, stdout, stderr) = await MilterDaemon.RunCliAsync([.. args, "--force"]);
        Assert.True(code == 0, stdout + stderr);
        Assert.NotEqual(before, File.ReadAllText(dir.File("s1.private")));
        Assert.Equal(Mode0600, File.GetUnixFileMode(dir.File("s1.private")));
        Assert.Equal<string>(["s1.private", "s1.txt"], Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f)).Order().ToArray());
    }

    [Fact]
    public async Task Keygen_creates_a_missing_directory_owner_only()
    {
        using var dir = new TempDir("keygen");
        var keys = dir.File("new/keys");
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(
            ["keygen", "--domain", "example.com", "--selector", "s1", "--algorithm", "ed25519-sha256", "--directory", keys]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
        Assert.True(File.Exists(Path.Combine(keys, "s1.private")));
    }

    [Fact]
    public async Task Keygen_warns_under_2048_bits()
    {
        using var dir = new TempDir("keygen");
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(
            ["keygen", "--domain", "example.com", "--selector", "s1", "--bits", "1024", "--directory", dir.Path]);
        Assert.Equal(0, code);
        Assert.Contains("warning: 1024-bit RSA keys are weak", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bits", "512", "--bits must be a number from 1024 to 4096")]
    [InlineData("--bits", "8192", "--bits must be a number from 1024 to 4096")]
    [InlineData("--algorithm", "rsa-sha1", "--algorithm must be rsa-sha256 or ed25519-sha256")]
    [InlineData("--domain", "bad domain", "--domain 'bad domain' is not a domain name")]
    [InlineData("--selector", "a..b", "--selector 'a..b' is not a valid selector")]
    public async Task Keygen_bad_options_exit_2_with_one_line(string option, string value, string expected)
    {
        using var dir = new TempDir("keygen");
        var args = new Dictionary<string, string>
        {
            ["--domain"] = "example.com", ["--selector"] = "s1", ["--directory"] = dir.Path,
        };
        args[option] = value;
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["keygen", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task Keygen_bits_with_ed25519_is_a_usage_error()
    {
        using var dir = new TempDir("keygen");
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(
            ["keygen", "--domain", "example.com", "--selector", "s1", "--algorithm", "ed25519-sha256", "--bits", "2048", "--directory", dir.Path]);
        Assert.Equal(2, code);
        Assert.Contains("--bits applies to rsa-sha256 only", stderr, StringComparison.Ordinal);
    }
}
