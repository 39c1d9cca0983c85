using System.Security.Cryptography;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>
/// Keys made by the real `milter keygen` and a Knot server publishing their .txt records as written, plus
/// broken records for testkey: another key, a revoked key, two records, bad syntax, a wrong k=, a weak key.
/// </summary>
public sealed class CliKeysFixture : IAsyncLifetime
{
    public const string Domain = "cli.test";

    public TempDir Dir { get; } = new("cli-keys");
    public KnotDnsServer Knot { get; private set; } = null!;

    /// <summary>"--dns 127.0.0.1:PORT" for the Knot server.</summary>
    public string[] DnsArgs => ["--dns", $"127.0.0.1:{Knot.Port}"];

    public string KeyDir => Dir.Sub("keys");
    public string PrivateKey(string selector) => Path.Combine(KeyDir, selector + ".private");
    public string TxtFile(string selector) => Path.Combine(KeyDir, selector + ".txt");

    public async Task InitializeAsync()
    {
        await KeygenAsync("rsa1", "rsa-sha256");
        await KeygenAsync("ed1", "ed25519-sha256");
        await KeygenAsync("other", "rsa-sha256");
        await KeygenAsync("small", "rsa-sha256", "1024");

        var zone = string.Join('\n',
            File.ReadAllText(TxtFile("rsa1")),
            File.ReadAllText(TxtFile("ed1")),
            File.ReadAllText(TxtFile("small")),
            // the record of "other" published under rsa1's key's selector "swapped"
            File.ReadAllText(TxtFile("other")).Replace("other._domainkey", "swapped._domainkey", StringComparison.Ordinal),
            "revoked._domainkey IN TXT \"v=DKIM1; k=rsa; p=\"",
            "twice._domainkey IN TXT \"v=DKIM1; k=rsa; p=AAAA\"",
            "twice._domainkey IN TXT \"v=DKIM1; k=rsa; p=BBBB\"",
            "broken._domainkey IN TXT \"v=DKIM1; k=rsa; p=MIIB==; =oops\"",
            "edtype._domainkey IN TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
            $"weak._domainkey IN TXT \"v=DKIM1; k=rsa; p={WeakRsaPublicKey()}\"",
            "");
        Knot = await KnotDnsServer.StartAsync(DnsZone.FromText(Domain, zone));
    }

    private async Task KeygenAsync(string selector, string algorithm, string? bits = null)
    {
        string[] args = ["keygen", "--domain", Domain, "--selector", selector, "--algorithm", algorithm, "--directory", KeyDir];
        if (bits is not null) args = [.. args, "--bits", bits];
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(args);
        if (code != 0) throw new InvalidOperationException($"keygen {selector} exited {code}: {stdout}{stderr}");
    }

    /// <summary>A 512-bit RSA public key (SubjectPublicKeyInfo, base64): too weak for any verifier.</summary>
    private static string WeakRsaPublicKey()
    {
        using var rsa = RSA.Create();
        rsa.ImportParameters(WeakParameters());
        return Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo());
    }

    /// <summary>OpenSSL refuses to generate 512-bit keys, so the modulus is made up: only its size matters.</summary>
    private static RSAParameters WeakParameters()
    {
        var modulus = RandomNumberGenerator.GetBytes(64);
        modulus[0] |= 0x80;
        modulus[^1] |= 1;
        return new RSAParameters { Modulus = modulus, Exponent = [1, 0, 1] };
    }

    public async Task DisposeAsync()
    {
        if (Knot is not null) await Knot.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>One <see cref="CliKeysFixture"/> (keys and Knot) shared by the testkey and sign tests.</summary>
[CollectionDefinition(Name)]
public sealed class CliKeysCollection : ICollectionFixture<CliKeysFixture>
{
    public const string Name = "cli keys";
}
