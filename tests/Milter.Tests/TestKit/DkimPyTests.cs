using System.Security.Cryptography;
using System.Text;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Milter.Tests.TestKit;

public sealed class DkimPyTests : IAsyncLifetime
{
    private static readonly byte[] Message = Encoding.ASCII.GetBytes(
        "From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: dkimpy round trip\r\n" +
        "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\nMessage-ID: <dkimpy@example.test>\r\n\r\n" +
        "Hello Bob,\r\nthis body is signed.\r\n");

    private readonly RSA _rsa = RSA.Create(2048);
    private readonly Ed25519PrivateKeyParameters _ed25519 = NewEd25519();
    private KnotDnsServer _knot = null!;

    private static Ed25519PrivateKeyParameters NewEd25519()
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        return (Ed25519PrivateKeyParameters)generator.GenerateKeyPair().Private;
    }

    public async Task InitializeAsync()
    {
        var zone = new DnsZone("example.test")
            .Txt("rsa._domainkey", "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(_rsa.ExportSubjectPublicKeyInfo()))
            .Txt("ed._domainkey", "v=DKIM1; k=ed25519; p=" + Convert.ToBase64String(_ed25519.GeneratePublicKey().GetEncoded()));
        _knot = await KnotDnsServer.StartAsync([zone]);
    }

    public async Task DisposeAsync()
    {
        await _knot.DisposeAsync();
        _rsa.Dispose();
    }

    private Task<byte[]> SignRsaAsync(byte[] message, string canonicalization = "relaxed/relaxed") =>
        DkimPy.SignAsync(message, "example.test", "rsa", _rsa.ExportRSAPrivateKeyPem(), canonicalization, "rsa-sha256",
            ["From", "To", "Subject", "Date", "Message-ID"]);

    [Fact]
    public async Task An_rsa_signature_verifies_through_knot_and_one_changed_byte_fails()
    {
        byte[] signed = await SignRsaAsync(Message, "simple/simple");
        string text = Encoding.ASCII.GetString(signed);
        Assert.StartsWith("DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.test;", text.Replace("\r\n", "").Replace("\t", " ").Replace("  ", " "));
        Assert.EndsWith(Encoding.ASCII.GetString(Message), text);

        var good = await DkimPy.VerifyAsync(signed, _knot.Port);
        Assert.True(good.Pass, good.Output);
        var signature = Assert.Single(good.Signatures);
        Assert.Equal(("example.test", "rsa"), (signature.Domain, signature.Selector));

        byte[] tampered = (byte[])signed.Clone();
        int body = text.IndexOf("signed.", StringComparison.Ordinal);
        tampered[body] = (byte)'S';
        var bad = await DkimPy.VerifyAsync(tampered, _knot.Port);
        Assert.False(bad.Pass, bad.Output);
        Assert.False(Assert.Single(bad.Signatures).Pass);
    }

    [Fact]
    public async Task Each_of_two_signatures_gets_its_own_verdict()
    {
        string edKey = Convert.ToBase64String(_ed25519.GetEncoded());
        byte[] once = await DkimPy.SignAsync(Message, "example.test", "ed", edKey, "relaxed/simple", "ed25519-sha256");
        byte[] twice = await SignRsaAsync(once);

        var both = await DkimPy.VerifyAsync(twice, _knot.Port);
        Assert.Equal(2, both.Signatures.Count);
        Assert.True(both.Pass, both.Output);
        Assert.Equal(["rsa", "ed"], both.Signatures.Select(s => s.Selector));

        // A selector with no key in DNS: that signature fails, the other still passes.
        byte[] unknown = await DkimPy.SignAsync(Message, "example.test", "nokey", _rsa.ExportRSAPrivateKeyPem());
        byte[] mixed = [.. unknown[..^Message.Length], .. twice];
        var verdicts = await DkimPy.VerifyAsync(mixed, _knot.Port);
        Assert.Equal([false, true, true], verdicts.Signatures.Select(s => s.Pass));
        Assert.False(verdicts.Pass);
    }

    [Fact]
    public async Task A_message_without_signatures_has_no_verdicts()
    {
        var result = await DkimPy.VerifyAsync(Message, _knot.Port);
        Assert.Empty(result.Signatures);
        Assert.False(result.Pass);
    }
}
