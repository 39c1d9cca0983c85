using System.Security.Cryptography;
using Milter.Keys;
using Milter.MailAuth.Dkim;

namespace Milter.Tests.Commands;

/// <summary>The record rules testkey applies (RFC 6376 3.6.1, RFC 8463 4.2), checked in process.</summary>
public sealed class KeyRecordCheckTests : IDisposable
{
    private const string Name = "s._domainkey.example.com";
    private readonly DkimPrivateKey _rsa = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
    private readonly DkimPrivateKey _ed = DkimPrivateKey.Generate(DkimKeyType.Ed25519);

    public void Dispose()
    {
        _rsa.Dispose();
        _ed.Dispose();
    }

    private KeyRecordCheckResult Rsa(string record) => KeyRecordCheck.Check(record, _rsa, Name, "k.pem");

    [Fact]
    public void The_generated_records_match()
    {
        Assert.True(Rsa(_rsa.PublicKeyRecord).Ok);
        Assert.True(KeyRecordCheck.Check(_ed.PublicKeyRecord, _ed, Name, "k.pem").Ok);
    }

    [Fact]
    public void Tags_may_come_in_any_order_with_whitespace_and_without_v_or_k()
    {
        var p = _rsa.PublicKeyBase64;
        var folded = string.Join(" ", Enumerable.Range(0, (p.Length + 63) / 64).Select(i => p.Substring(i * 64, Math.Min(64, p.Length - i * 64))));
        Assert.True(Rsa($"p={folded} ; h=sha1:sha256; s=email").Ok);
        Assert.True(Rsa($"k=rsa;p={p}").Ok);
    }

    /// <summary>testkey says ok exactly when the verifier would use the record with this key's algorithm.</summary>
    [Theory]
    [InlineData("v=DKIM1; k=RSA; p={0}")]
    [InlineData("v=DKIM1; k=Rsa; h=SHA256; s=EMAIL; p={0}")]
    [InlineData("v=DKIM1; k=rsa; h=sha1; p={0}")]
    [InlineData("v=DKIM1; k=dsa; p={0}")]
    [InlineData("v=DKIM1; s=tls; p={0}")]
    [InlineData("v=DKIM1; s=*; p={0}")]
    [InlineData("v=dkim1; p={0}")]
    [InlineData("p={0}; v=DKIM1")]
    [InlineData("v=DKIM1; p=")]
    [InlineData("v=DKIM1; k=ed25519; p={0}")]
    public void Testkey_agrees_with_the_verifier_on_record_syntax(string template)
    {
        var record = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, _rsa.PublicKeyBase64);
        var parsed = DkimKeyRecord.Parse(record);
        var verifierUses = parsed.Key is { } key && key.Suits(DkimSignatureAlgorithm.RsaSha256, out _);
        var result = Rsa(record);
        Assert.True(verifierUses == result.Ok, $"verifier uses it: {verifierUses} ({parsed.Error}); testkey: {result.Message}");
    }

    [Fact]
    public void A_bare_pkcs1_rsa_public_key_is_accepted()
    {
        using var rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(Convert.FromBase64String(_rsa.PublicKeyBase64), out _);
        Assert.True(Rsa("v=DKIM1; p=" + Convert.ToBase64String(rsa.ExportRSAPublicKey())).Ok);
    }

    [Fact]
    public void Testing_flag_is_noted()
    {
        var result = Rsa(_rsa.PublicKeyRecord + "; t=y");
        Assert.True(result.Ok);
        Assert.EndsWith("note: t=y, the domain is testing DKIM", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v=DKIM2; p={0}", "syntax error in the record at s._domainkey.example.com: v= must be the first tag and be DKIM1")]
    [InlineData("k=rsa; v=DKIM1; p={0}", "syntax error in the record at s._domainkey.example.com: v= must be the first tag")]
    [InlineData("v=DKIM1; k=rsa", "syntax error in the record at s._domainkey.example.com: no p= tag")]
    [InlineData("v=DKIM1; p=%%%", "syntax error in the record at s._domainkey.example.com:")]
    [InlineData("v=DKIM1; p=QUJD", "syntax error in the record at s._domainkey.example.com: p= is not an RSA public key")]
    [InlineData("v=DKIM1; p= ", "key revoked: the record at s._domainkey.example.com has an empty p=")]
    [InlineData("v=DKIM1; k=dsa; p={0}", "unsupported key type k=dsa")]
    [InlineData("v=DKIM1; h=sha1; p={0}", "the record at s._domainkey.example.com has h=sha1, which does not allow sha256")]
    [InlineData("v=DKIM1; s=tls; p={0}", "the record at s._domainkey.example.com has s=tls, which does not allow email")]
    [InlineData("v=DKIM1; p={0}; p={0}", "syntax error in the record at s._domainkey.example.com:")]
    public void Bad_rsa_records_fail(string template, string expected)
    {
        var result = Rsa(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, _rsa.PublicKeyBase64));
        Assert.False(result.Ok);
        Assert.StartsWith(expected, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ed25519_record_of_the_wrong_length_or_key_fails()
    {
        var shortKey = KeyRecordCheck.Check("v=DKIM1; k=ed25519; p=" + Convert.ToBase64String(new byte[31]), _ed, Name, "k.pem");
        Assert.StartsWith("syntax error in the record at s._domainkey.example.com: an Ed25519 p= must hold 32 bytes, not 31", shortKey.Message, StringComparison.Ordinal);
        using var other = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var mismatch = KeyRecordCheck.Check(other.PublicKeyRecord, _ed, Name, "k.pem");
        Assert.False(mismatch.Ok);
        Assert.StartsWith("key mismatch:", mismatch.Message, StringComparison.Ordinal);
    }
}
