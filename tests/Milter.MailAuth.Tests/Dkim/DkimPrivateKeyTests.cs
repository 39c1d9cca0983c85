using System.Security.Cryptography;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

public class DkimPrivateKeyTests
{
    private const string AppCPublicKey =
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";

    private const string Rfc8463PublicKey = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    // PKCS#8 wrapping of the RFC 8463 A.1 / RFC 8032 test 1 seed (made with a hex prefix, checked with openssl pkey).
    private const string Ed25519Pkcs8 =
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

    [Fact]
    public void LoadsRsaPkcs1AndDerivesTheAppendixCRecord()
    {
        DkimKeyLoadResult r = DkimPrivateKey.Load(DkimTestData.Text("rfc6376", "appC-rsa.private.pem"));
        Assert.True(r.Success, r.Error);
        using DkimPrivateKey key = r.Key!;
        Assert.Equal(DkimKeyType.Rsa, key.KeyType);
        Assert.Equal(1024, key.KeySizeBits);
        Assert.Equal("rsa-sha256", key.Algorithm);
        Assert.Equal(AppCPublicKey, key.PublicKeyBase64);
        Assert.Equal("v=DKIM1; k=rsa; p=" + AppCPublicKey, key.PublicKeyRecord);
        Assert.Equal(AppCPublicKey, string.Concat(DkimTestData.Text("rfc6376", "appC-rsa.public.pem")
            .Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)).Select(l => l.Trim())));
    }

    [Fact]
    public void LoadsRsaPkcs8()
    {
        using var rsa = RSA.Create();
        rsa.ImportFromPem(DkimTestData.Text("rfc6376", "appC-rsa.private.pem"));
        DkimKeyLoadResult r = DkimPrivateKey.Load(rsa.ExportPkcs8PrivateKeyPem());
        Assert.True(r.Success, r.Error);
        Assert.Equal(AppCPublicKey, r.Key!.PublicKeyBase64);
    }

    [Theory]
    [InlineData("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")]
    [InlineData("  nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n")]
    [InlineData(Ed25519Pkcs8)]
    public void LoadsEd25519AndDerivesTheRfc8463Record(string text)
    {
        DkimKeyLoadResult r = DkimPrivateKey.Load(text);
        Assert.True(r.Success, r.Error);
        Assert.Equal(DkimKeyType.Ed25519, r.Key!.KeyType);
        Assert.Equal("ed25519-sha256", r.Key.Algorithm);
        Assert.Equal("v=DKIM1; k=ed25519; p=" + Rfc8463PublicKey, r.Key.PublicKeyRecord);
    }

    [Theory]
    [InlineData(DkimKeyType.Ed25519)]
    [InlineData(DkimKeyType.Rsa)]
    public void GeneratedKeysRoundTripThroughPkcs8Pem(DkimKeyType type)
    {
        using DkimPrivateKey key = DkimPrivateKey.Generate(type, 1024);
        DkimKeyLoadResult r = DkimPrivateKey.Load(key.ExportPkcs8Pem());
        Assert.True(r.Success, r.Error);
        Assert.Equal(key.PublicKeyRecord, r.Key!.PublicKeyRecord);
    }

    [Fact]
    public void RejectsSmallRsaKeysWithoutShowingKeyMaterial()
    {
        using var rsa = RSA.Create(512);
        string pem = rsa.ExportRSAPrivateKeyPem();
        DkimKeyLoadResult r = DkimPrivateKey.Load(pem);
        Assert.False(r.Success);
        Assert.Contains("512 bits", r.Error);
        AssertNoKeyMaterial(pem, r.Error!);
    }

    [Fact]
    public void AcceptsRsa4096AndRefusesLargerKeys()
    {
        DkimKeyLoadResult ok = DkimPrivateKey.Load(DkimTestData.Text("rsa-4096.private.pem"));
        Assert.True(ok.Success, ok.Error);
        Assert.Equal(4096, ok.Key!.KeySizeBits);

        string pem = DkimTestData.Text("rsa-4160-too-large.private.pem");
        DkimKeyLoadResult r = DkimPrivateKey.Load(pem);
        Assert.False(r.Success);
        Assert.Contains("4160 bits", r.Error);
        AssertNoKeyMaterial(pem, r.Error!);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("not a key", "neither PEM nor")]
    [InlineData("AAAA", "32-byte seed")]
    [InlineData("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "unsupported PEM type")]
    [InlineData("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----", "encrypted")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END RSA PRIVATE KEY-----", "could not be decoded")]
    [InlineData("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----", "could not be decoded")]
    public void BadKeysGiveAClearErrorWithoutKeyMaterial(string text, string reason)
    {
        DkimKeyLoadResult r = DkimPrivateKey.Load(text);
        Assert.False(r.Success);
        Assert.Null(r.Key);
        Assert.Contains(reason, r.Error);
        AssertNoKeyMaterial(text, r.Error!);
    }

    [Fact]
    public void RsaSigningIsSafeFromManyThreads()
    {
        using DkimPrivateKey key = SignVectorTests.LoadKey("rfc6376", "appC-rsa.private.pem");
        using var pub = RSA.Create();
        pub.ImportSubjectPublicKeyInfo(Convert.FromBase64String(AppCPublicKey), out _);
        var failures = 0;
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            byte[] hash = SHA256.HashData(BitConverter.GetBytes(i));
            byte[] sig = key.SignHash(hash);
            if (!pub.VerifyHash(hash, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
    }

    private static void AssertNoKeyMaterial(string keyText, string error)
    {
        foreach (string line in keyText.Split('\n'))
        {
            string l = line.Trim();
            if (l.Length >= 8 && !l.StartsWith("-----", StringComparison.Ordinal))
            {
                Assert.DoesNotContain(l[..8], error, StringComparison.Ordinal);
            }
        }
    }
}
