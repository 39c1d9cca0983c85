using System.Security.Cryptography;
using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>i= is dkim-quoted-printable (RFC 6376 2.11, 3.5): decoded before it is checked against d= and before
/// it becomes header.i; a malformed encoding is permerror. Signatures written here by hand so that i= carries
/// the encodings a signer may choose (ours encodes only what it must).</summary>
public class IdentityQuotedPrintableTests
{
    private const string B64 = "dGVzdCBzaWduYXR1cmU=";
    private const string Valid = " v=1; a=rsa-sha256; d=messiah.edu; s=sel; h=from:to; bh=" + B64 + "; b=" + B64;

    private static readonly DkimPrivateKey Ed = DkimPrivateKey.Generate(DkimKeyType.Ed25519);

    private static DkimVerifierSignature Parse(string identity) =>
        DkimVerifierSignature.Parse("DKIM-Signature"u8.ToArray(), Encoding.Latin1.GetBytes(Valid + "; i=" + identity));

    [Theory]
    [InlineData("jlong=40messiah.edu", "jlong@messiah.edu")]
    [InlineData("jlong@messiah=2Eedu", "jlong@messiah.edu")]
    [InlineData("=6Along@messiah.edu", "jlong@messiah.edu")]
    [InlineData("=6alon=67@messiah.edu", "jlong@messiah.edu")]
    [InlineData("j=3Dlong@messiah.edu", "j=long@messiah.edu")]
    [InlineData("j=3Blong@mail.messiah.edu", "j;long@mail.messiah.edu")]
    [InlineData("jlo\r\n ng@mess iah.edu", "jlong@messiah.edu")]
    [InlineData("=C3=A9lodie@messiah.edu", "\u00e9lodie@messiah.edu")]
    [InlineData("@messiah.edu", "@messiah.edu")]
    public void I_is_decoded_before_it_is_checked_and_reported(string written, string decoded)
    {
        DkimVerifierSignature sig = Parse(written);
        Assert.True(sig.IsValid, sig.Error);
        Assert.Equal(decoded, sig.HeaderI);
        Assert.Equal(decoded[(decoded.LastIndexOf('@') + 1)..], sig.IdentityDomain);
    }

    [Theory]
    [InlineData("jlong=4messiah.edu")]
    [InlineData("jlong@messiah.edu=")]
    [InlineData("jlong@messiah.edu=2")]
    [InlineData("jlong=ZZ@messiah.edu")]
    [InlineData("jlong=FF@messiah.edu")] // 0xFF alone is not UTF-8
    public void A_malformed_encoding_is_permerror(string written)
    {
        DkimVerifierSignature sig = Parse(written);
        Assert.Equal((DkimResult.PermError, "malformed i= (not dkim-quoted-printable)"), (sig.ErrorResult, sig.Error));
        Assert.Equal(written, sig.HeaderI); // shown as written when it cannot be decoded
    }

    [Theory]
    [InlineData("jlong=40evil.example", DkimResult.PermError, "i= domain not within d=")]
    [InlineData("jlong@evil=2Eexample", DkimResult.PermError, "i= domain not within d=")]
    [InlineData("jlong=2Emessiah.edu", DkimResult.Neutral, "malformed i=")] // no "@" once decoded
    [InlineData("jlong=0D=0A@messiah.edu", DkimResult.Neutral, "malformed i=")] // decoded controls
    [InlineData("jlong@mess=20iah.edu", DkimResult.Neutral, "malformed i=")]
    public void The_decoded_value_is_what_is_checked(string written, DkimResult result, string reason)
    {
        DkimVerifierSignature sig = Parse(written);
        Assert.Equal((result, reason), (sig.ErrorResult, sig.Error));
    }

    [Theory]
    [InlineData("jlong=40messiah.edu", "jlong@messiah.edu")]
    [InlineData("jlong@messiah=2Eedu", "jlong@messiah.edu")]
    [InlineData("=6Along@messiah.edu", "jlong@messiah.edu")]
    public async Task An_encoded_i_verifies_and_is_reported_decoded(string written, string decoded)
    {
        byte[] message = HandSigned(written);
        var dns = new InMemoryDnsResolver().AddTxt("sel._domainkey.messiah.edu", Ed.PublicKeyRecord);
        DkimVerificationResult r = Assert.Single(await new DkimVerifier(dns).VerifyMessageAsync(message));
        Assert.True(r.IsPass, r.Reason);
        Assert.Equal(decoded, r.HeaderI);
    }

    [Fact]
    public async Task Our_signer_encodes_what_it_must_and_the_identity_round_trips()
    {
        var signer = new DkimSigner(new DkimSignerOptions
        {
            Domain = "messiah.edu", Selector = "sel", Key = Ed, Identity = "j=long@mail.messiah.edu",
        });
        byte[] signed = signer.SignMessageToBytes(Encoding.ASCII.GetBytes(Body("x")), out DkimSignResult result);
        Assert.True(result.Success, result.Error);
        Assert.Contains("i=j=3Dlong@mail.messiah.edu;", Encoding.ASCII.GetString(signed), StringComparison.Ordinal);
        var dns = new InMemoryDnsResolver().AddTxt("sel._domainkey.messiah.edu", Ed.PublicKeyRecord);
        DkimVerificationResult r = Assert.Single(await new DkimVerifier(dns).VerifyMessageAsync(signed));
        Assert.True(r.IsPass, r.Reason);
        Assert.Equal("j=long@mail.messiah.edu", r.HeaderI);
    }

    [Theory]
    [InlineData("jlong@messiah.edu", "jlong@messiah.edu")]
    [InlineData("a b;c=d@x.example", "a=20b=3Bc=3Dd@x.example")]
    [InlineData("\u00e9@x.example", "=C3=A9@x.example")]
    public void Encode_writes_every_unsafe_octet_as_hex(string value, string encoded)
    {
        Assert.Equal(encoded, DkimQuotedPrintable.Encode(value));
        Assert.True(DkimQuotedPrintable.TryDecode(encoded, out string back));
        Assert.Equal(value, back);
    }

    private static string Body(string identity) =>
        "From: Jim Long <jlong@messiah.edu>\r\nTo: registrar@messiah.edu\r\nSubject: transcript request (" + identity
        + ")\r\n\r\nPlease send my transcript to the address on file.\r\n";

    /// <summary>A message with an ed25519-sha256 relaxed/relaxed signature whose i= is written exactly as
    /// <paramref name="identity"/> (RFC 6376 3.7 / 5.4: the signed fields, then the signature field with b= empty).</summary>
    private static byte[] HandSigned(string identity)
    {
        string text = Body(identity);
        int split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        using var bodyHasher = new DkimBodyHasher(DkimCanonicalization.Relaxed);
        bodyHasher.Append(Encoding.ASCII.GetBytes(text[split..]));
        string bh = Convert.ToBase64String(bodyHasher.Complete());
        string value = " v=1; a=ed25519-sha256; c=relaxed/relaxed; d=messiah.edu; s=sel;\r\n\ti=" + identity
            + "; h=from:to:subject; bh=" + bh + ";\r\n\tb=";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string field in text[..(split - 4)].Split("\r\n"))
        {
            int colon = field.IndexOf(':', StringComparison.Ordinal);
            DkimHeaderCanonicalizer.AppendTo(hash, DkimCanonicalization.Relaxed, Encoding.ASCII.GetBytes(field[..colon]),
                Encoding.ASCII.GetBytes(field[(colon + 1)..]), appendCrlf: true);
        }
        DkimHeaderCanonicalizer.AppendTo(hash, DkimCanonicalization.Relaxed, "DKIM-Signature"u8, Encoding.ASCII.GetBytes(value),
            appendCrlf: false);
        string b = Convert.ToBase64String(Ed.SignHash(hash.GetHashAndReset()));
        return Encoding.ASCII.GetBytes("DKIM-Signature:" + value + b + "\r\n" + text);
    }
}
