using System.Text.Json;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.TestKit.Dns;

namespace Milter.Tests.Fixtures;

/// <summary>
/// Keys for example.test (RSA-2048 selector "rsa", Ed25519 selector "ed") written as key files with mode 0600,
/// their public records served by a real Knot on loopback, and a milter config file that signs with them.
/// </summary>
public sealed class SigningLab : IAsyncDisposable
{
    public const string Domain = "example.test";
    public const string AuthservId = "relay.lab.test";

    private SigningLab(TempDir dir, KnotDnsServer dns, string configPath)
    {
        Dir = dir;
        Dns = dns;
        ConfigPath = configPath;
    }

    public TempDir Dir { get; }
    public KnotDnsServer Dns { get; }
    public string ConfigPath { get; }
    public string RsaKeyFile => Dir.File("rsa.private");
    public string EdKeyFile => Dir.File("ed.private");

    public static async Task<SigningLab> StartAsync(string canonicalization = "relaxed/relaxed", bool ed25519 = true,
        IReadOnlyList<string>? internalHosts = null)
    {
        var dir = new TempDir("signing-lab");
        using var rsa = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        using var ed = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        WriteKey(dir.File("rsa.private"), rsa.ExportPkcs8Pem());
        WriteKey(dir.File("ed.private"), ed.ExportPkcs8Pem());
        var zone = new DnsZone(Domain).Txt("rsa._domainkey", rsa.PublicKeyRecord).Txt("ed._domainkey", ed.PublicKeyRecord);
        var dns = await KnotDnsServer.StartAsync(zone);
        var keys = new List<object> { new { Domain, Selector = "rsa", KeyFile = dir.File("rsa.private") } };
        if (ed25519) keys.Add(new { Domain, Selector = "ed", KeyFile = dir.File("ed.private") });
        var config = new
        {
            AuthservId,
            Dns = new { Servers = new[] { $"127.0.0.1:{dns.Port}" } },
            Signing = new
            {
                Keys = keys,
                InternalHosts = internalHosts ?? ["127.0.0.0/8"],
                Canonicalization = canonicalization,
            },
            ReportLog = new { Path = dir.File("verification.jsonl") },
        };
        var configPath = dir.File("milter.json");
        await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(config));
        return new SigningLab(dir, dns, configPath);
    }

    private static void WriteKey(string path, string pem)
    {
        File.WriteAllText(path, pem);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public async ValueTask DisposeAsync()
    {
        await Dns.DisposeAsync();
        Dir.Dispose();
    }
}
