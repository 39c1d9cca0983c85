using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>DKIM-Signature parsing (RFC 6376 3.5): strict syntax, lenient whitespace.</summary>
public class DkimVerifierSignatureTests
{
    private const string B64 = "dGVzdCBzaWduYXR1cmU=";
    private const string Valid = " v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=" + B64 + "; b=" + B64;

    private static DkimVerifierSignature Parse(string value) =>
        DkimVerifierSignature.Parse(Encoding.ASCII.GetBytes("DKIM-Signature"), Encoding.Latin1.GetBytes(value));

    private static void AssertError(string value, DkimResult result, string reason)
    {
        DkimVerifierSignature sig = Parse(value);
        Assert.False(sig.IsValid);
        Assert.Equal((result, reason), (sig.ErrorResult, sig.Error));
    }

    [Fact]
    public void Minimal_signature_gets_the_defaults()
    {
        DkimVerifierSignature sig = Parse(Valid);
        Assert.True(sig.IsValid, sig.Error);
        Assert.Equal(DkimSignatureAlgorithm.RsaSha256, sig.Algorithm);
        Assert.Equal((DkimCanonicalization.Simple, DkimCanonicalization.Simple), (sig.HeaderCanonicalization, sig.BodyCanonicalization));
        Assert.Equal(["from", "to"], sig.SignedHeaders);
        Assert.Equal("@example.com", sig.HeaderI);
        Assert.Equal("example.com", sig.IdentityDomain);
        Assert.Equal(-1, sig.BodyLength);
        Assert.Null(sig.Timestamp);
        Assert.Null(sig.Expiration);
        Assert.Equal("dGVzdCBz", sig.HeaderB);
        Assert.Equal("test signature"u8.ToArray(), sig.Signature);
    }

    [Fact]
    public void Whitespace_is_allowed_everywhere_fws_may_appear()
    {
        string value = "\r\n\tv = 1 ;\r\n a\t=\trsa-sha256 ; c = relaxed/relaxed ;\r\n d = example.com ; s = sel ;"
            + " h = From\r\n  : To :\tSubject ; bh = dGVzdCBz\r\n aWduYXR1cmU= ; l = 12 ; t = 100 ; x = 200 ;"
            + " i = joe@Sub.Example.COM ; q = dns/txt ; b = dGVz\r\n\t dCBzaWdu YXR1cmU= ;\r\n ";
        DkimVerifierSignature sig = Parse(value);
        Assert.True(sig.IsValid, sig.Error);
        Assert.Equal(["From", "To", "Subject"], sig.SignedHeaders);
        Assert.Equal("test signature"u8.ToArray(), sig.Signature);
        Assert.Equal("test signature"u8.ToArray(), sig.BodyHash);
        Assert.Equal((DkimCanonicalization.Relaxed, DkimCanonicalization.Relaxed), (sig.HeaderCanonicalization, sig.BodyCanonicalization));
        Assert.Equal((12L, 100L, 200L), (sig.BodyLength, sig.Timestamp!.Value, sig.Expiration!.Value));
        Assert.Equal("Sub.Example.COM", sig.IdentityDomain);
        Assert.Equal("dGVzdCBz", sig.HeaderB);
    }

    [Fact]
    public void The_b_value_range_covers_the_value_and_the_fws_before_it_only()
    {
        string value = " v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" + B64 + "; b=\r\n " + B64 + " \r\n ; z=1";
        DkimVerifierSignature sig = Parse(value);
        Assert.True(sig.IsValid, sig.Error);
        string kept = value[..sig.BValueStart] + value[sig.BValueEnd..];
        Assert.Equal(" v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" + B64 + "; b= \r\n ; z=1", kept);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("b")]
    [InlineData("bh")]
    [InlineData("d")]
    [InlineData("h")]
    [InlineData("s")]
    public void Missing_required_tag_is_neutral(string tag)
    {
        string value = string.Join(";", Valid.Split(';').Where(t => t.Split('=')[0].Trim() != tag));
        AssertError(value, DkimResult.Neutral, "signature missing required tag " + tag + "=");
    }

    [Fact]
    public void Missing_or_unknown_version_is_neutral()
    {
        AssertError(Valid.Replace("v=1;", ""), DkimResult.Neutral, "signature missing required tag v=");
        AssertError(Valid.Replace("v=1;", "v=2;"), DkimResult.Neutral, "unsupported signature version");
    }

    [Fact]
    public void Duplicate_tag_is_neutral()
    {
        AssertError(Valid + "; d=example.org", DkimResult.Neutral, "malformed signature: duplicate tag \"d\"");
    }

    [Theory]
    [InlineData("; b=", "b=", "malformed b= (bad base64)")]
    [InlineData("; b=" + B64, "; b=dGVzdA=", "malformed b= (bad base64)")]
    [InlineData("; b=" + B64, "; b=dGVz!dA==", "malformed b= (bad base64)")]
    [InlineData("bh=" + B64, "bh=dGVzdA", "malformed bh= (bad base64)")]
    [InlineData("bh=" + B64, "bh=", "malformed bh= (bad base64)")]
    public void Bad_base64_is_neutral(string from, string to, string reason)
    {
        string value = from == "; b=" ? Valid.Replace("; b=" + B64, "; b=") : Valid.Replace(from, to);
        AssertError(value, DkimResult.Neutral, reason);
    }

    [Theory]
    [InlineData("a=rsa-sha256", "a=rsa-sha512", "unsupported algorithm")]
    [InlineData("a=rsa-sha256", "a=ed448-sha256", "unsupported algorithm")]
    [InlineData("h=from:to", "h=from:to; c=relaxed/fancy", "unsupported canonicalization")]
    [InlineData("h=from:to", "h=from:to; q=dns", "unsupported query method")]
    [InlineData("h=from:to", "h=from:to; l=12a", "malformed l=")]
    [InlineData("h=from:to", "h=from:to; l=-1", "malformed l=")]
    [InlineData("h=from:to", "h=from:to; t=1234567890123", "malformed t=")]
    [InlineData("h=from:to", "h=from:to; x=soon", "malformed x=")]
    [InlineData("h=from:to", "h=from::to", "malformed h=")]
    [InlineData("h=from:to", "h=from:to; i=nobody", "malformed i=")]
    [InlineData("d=example.com", "d=exa mple.com", "malformed d=")]
    [InlineData("d=example.com", "d=example..com", "malformed d=")]
    [InlineData("s=sel", "s=sel/x", "malformed s=")]
    [InlineData("s=sel", "s=sel; b=x", "malformed signature: duplicate tag \"b\"")]
    [InlineData("s=sel", "s=sel; 1x=y", "malformed signature: invalid tag name at position 42")]
    public void Syntax_errors_are_neutral(string from, string to, string reason)
    {
        Assert.Contains(from, Valid);
        AssertError(Valid.Replace(from, to), DkimResult.Neutral, reason);
    }

    [Theory]
    [InlineData("h=to:subject", "From field not signed")]
    [InlineData("h=from:to; i=joe@example.org", "i= domain not within d=")]
    [InlineData("h=from:to; i=joe@badexample.com", "i= domain not within d=")]
    [InlineData("h=from:to; t=200; x=100", "x= is not after t=")]
    [InlineData("h=from:to; t=200; x=200", "x= is not after t=")]
    public void Semantic_errors_are_permerror(string to, string reason)
    {
        AssertError(Valid.Replace("h=from:to", to), DkimResult.PermError, reason);
    }

    [Theory]
    [InlineData("h=FROM:to; i=@example.com")]
    [InlineData("h=from:to; i=joe@mail.EXAMPLE.com")]
    [InlineData("h=from:to; q=dns/txt:other/method")]
    [InlineData("h=from:to; c=relaxed")]
    [InlineData("h=from:to; zz=unknown tag; y=")]
    [InlineData("h=from:to; a2=3")]
    [InlineData("h=from:to; l=123456789012345678901234567890")]
    public void Accepted_variants(string to)
    {
        DkimVerifierSignature sig = Parse(Valid.Replace("h=from:to", to));
        Assert.True(sig.IsValid, sig.Error);
    }

    [Fact]
    public void Reporting_fields_survive_errors()
    {
        DkimVerifierSignature sig = Parse(Valid.Replace("v=1", "v=9") + "; i=joe@example.com");
        Assert.False(sig.IsValid);
        Assert.Equal(("example.com", "sel", "rsa-sha256", "joe@example.com", "dGVzdCBz"),
            (sig.Domain, sig.Selector, sig.AlgorithmName, sig.HeaderI, sig.HeaderB));
    }

    [Fact]
    public void Garbage_never_throws()
    {
        var random = new Random(6376);
        byte[] valid = Encoding.ASCII.GetBytes(Valid);
        for (int i = 0; i < 2000; i++)
        {
            byte[] mutated = (byte[])valid.Clone();
            for (int n = random.Next(1, 5); n > 0; n--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }
            DkimVerifierSignature sig = DkimVerifierSignature.Parse("DKIM-Signature"u8.ToArray(), mutated);
            Assert.True(sig.IsValid || sig.Error is not null);
        }
    }
}
