using System.Text.Json;
using Milter.MailAuth.Dkim;
using Milter.TestKit.Dns;
using Milter.Tests.Configuration.OpenDkim;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter check-config` checks the Arc:Seal key as it checks the DKIM keys: the file (mode, type, PEM) as the
/// daemon loads it, and its record in DNS.</summary>
public sealed class CheckConfigArcSealTests : IDisposable
{
    private readonly OpenDkimFiles _files = new();

    private string Config(string keyFile) => _files.Write("milter.json", JsonSerializer.Serialize(new
    {
        Arc = new { Seal = new { Domain = "lists.example", Selector = "arc", KeyFile = keyFile } },
    }));

    private static DkimPrivateKey Load(string path) => DkimPrivateKey.Load(File.ReadAllText(path)).Key!;

    [Theory]
    [InlineData(DkimKeyType.Rsa, 2048, "rsa-sha256, 2048-bit RSA")]
    [InlineData(DkimKeyType.Ed25519, 0, "ed25519-sha256")]
    public async Task A_seal_key_whose_record_matches_is_ok(DkimKeyType type, int bits, string described)
    {
        var keyFile = _files.Key("arc", type, bits: bits == 0 ? 1024 : bits);
        using var key = Load(keyFile);
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("lists.example").Txt("arc._domainkey", key.PublicKeyRecord));
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["check-config", "--config", Config(keyFile), "--dns", $"127.0.0.1:{knot.Port}"]);
        Assert.True(code == 0, stdout + stderr);
        var lines = stdout.Trim().Split('\n');
        Assert.Contains($"ok: Arc:Seal seals as d=lists.example s=arc ({key.Algorithm})", lines);
        Assert.Contains($"Arc:Seal: ok: the record at arc._domainkey.lists.example matches key file {keyFile} ({described})", lines);
    }

    [Fact]
    public async Task A_missing_or_wrong_seal_record_is_exit_1()
    {
        var keyFile = _files.Key("arc");
        using var other = DkimPrivateKey.Generate(DkimKeyType.Rsa, 1024);
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("lists.example").Txt("arc._domainkey", other.PublicKeyRecord));
        var (code, stdout, _) = await MilterDaemon.RunCliAsync(["check-config", "--config", Config(keyFile), "--dns", $"127.0.0.1:{knot.Port}"]);
        Assert.Equal(1, code);
        Assert.Contains($"Arc:Seal: fail: key mismatch: the record at arc._domainkey.lists.example is not the public key of key file {keyFile}",
            stdout.Trim().Split('\n'));

        await using var empty = await KnotDnsServer.StartAsync(new DnsZone("lists.example"));
        (code, stdout, _) = await MilterDaemon.RunCliAsync(["check-config", "--config", Config(keyFile), "--dns", $"127.0.0.1:{empty.Port}"]);
        Assert.Equal(1, code);
        Assert.Contains("Arc:Seal: fail: no TXT record at arc._domainkey.lists.example", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_group_readable_or_unreadable_seal_key_file_is_exit_2_naming_Arc_Seal_KeyFile()
    {
        var keyFile = _files.Key("arc", mode: UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["check-config", "--config", Config(keyFile), "--dns", "127.0.0.1:9"]);
        Assert.Equal(2, code);
        Assert.DoesNotContain("Arc:Seal: ok", stdout, StringComparison.Ordinal);
        Assert.Contains("Arc:Seal:KeyFile", stderr, StringComparison.Ordinal);
        Assert.Contains("chmod 600", stderr, StringComparison.Ordinal);

        var notPem = _files.Write("keys/not-a-key.private", "hello\n");
        Milter.TestKit.TempDir.SetMode(notPem, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (code, _, stderr) = await MilterDaemon.RunCliAsync(["check-config", "--config", Config(notPem), "--dns", "127.0.0.1:9"]);
        Assert.Equal(2, code);
        Assert.Contains("not a usable private key", stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _files.Dispose();
}
