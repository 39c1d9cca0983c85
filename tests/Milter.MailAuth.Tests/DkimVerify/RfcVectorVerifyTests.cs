using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>RFC 6376 Appendix A/C and RFC 8463 Appendix A through the verifier, keys from the RFC zone files.</summary>
public class RfcVectorVerifyTests
{
    private static readonly FixedTimeProvider Clock = new(1_767_225_600); // 2026-01-01

    /// <summary>Appendix C is printed under example.org while Appendix A signs d=example.com (erratum): the
    /// record is published at both names.</summary>
    private static InMemoryDnsResolver Rfc6376Dns()
    {
        var dns = new InMemoryDnsResolver().LoadZone(DkimTestData.Text("rfc6376", "appC-dns.zone"));
        return dns.AddTxt("brisbane._domainkey.example.com", dns.Txt("brisbane._domainkey.example.org"));
    }

    private static InMemoryDnsResolver Rfc8463Dns() =>
        new InMemoryDnsResolver().LoadZone(DkimTestData.Text("rfc8463", "A2-dns.zone"));

    [Theory]
    [InlineData("A2-signed-corrected.eml")]
    [InlineData("A3-delivered-corrected.eml")]
    public async Task Rfc6376_AppendixA_corrected_passes(string file)
    {
        var verifier = new DkimVerifier(Rfc6376Dns(), timeProvider: Clock);
        IReadOnlyList<DkimVerificationResult> results = await verifier.VerifyMessageAsync(DkimTestData.Bytes("rfc6376", file));
        DkimVerificationResult r = Assert.Single(results);
        Assert.Equal(DkimResult.Pass, r.Result);
        Assert.Null(r.Reason);
        Assert.Equal("example.com", r.Domain);
        Assert.Equal("brisbane", r.Selector);
        Assert.Equal("rsa-sha256", r.Algorithm);
        Assert.Equal("joe@football.example.com", r.HeaderI);
        Assert.Equal(8, r.HeaderB.Length);
        Assert.Equal(1024, r.KeyBits);
        Assert.False(r.Testing);
        Assert.False(r.BodyLengthLimited);
    }

    [Theory]
    [InlineData("A2-signed-as-printed.eml")]
    [InlineData("A3-delivered-as-printed.eml")]
    public async Task Rfc6376_AppendixA_as_printed_fails_on_the_body_hash(string file)
    {
        var dns = Rfc6376Dns();
        var verifier = new DkimVerifier(dns, timeProvider: Clock);
        DkimVerificationResult r = Assert.Single(await verifier.VerifyMessageAsync(DkimTestData.Bytes("rfc6376", file)));
        Assert.Equal(DkimResult.Fail, r.Result);
        Assert.Equal("body hash did not verify", r.Reason);
        Assert.Equal(1, dns.TxtQueries); // the key is checked before the body hash counts (RFC 6376 6.1.2)
    }

    [Fact]
    public async Task Rfc6376_AppendixA_corrected_with_the_as_printed_body_fails_on_the_signature()
    {
        // Keep the corrected (verifying) body but indent the signature like the printed RFC: header hash changes.
        string text = DkimTestData.Text("rfc6376", "A2-signed-corrected.eml");
        string changed = text.Replace("\r\n      ", "\r\n     ", StringComparison.Ordinal);
        Assert.NotEqual(text, changed);
        var verifier = new DkimVerifier(Rfc6376Dns(), timeProvider: Clock);
        DkimVerificationResult r = Assert.Single(await verifier.VerifyMessageAsync(DkimTestData.Latin1(changed)));
        Assert.Equal(DkimResult.Fail, r.Result);
        Assert.Equal("signature did not verify", r.Reason);
    }

    [Fact]
    public async Task Rfc6376_AppendixA1_unsigned_gives_no_results()
    {
        var verifier = new DkimVerifier(Rfc6376Dns(), timeProvider: Clock);
        Assert.Empty(await verifier.VerifyMessageAsync(DkimTestData.Bytes("rfc6376", "A1-unsigned.eml")));
    }

    [Fact]
    public async Task Rfc8463_A3_both_signatures_pass()
    {
        var verifier = new DkimVerifier(Rfc8463Dns(), timeProvider: Clock);
        IReadOnlyList<DkimVerificationResult> results = await verifier.VerifyMessageAsync(DkimTestData.Bytes("rfc8463", "A3-signed.eml"));
        Assert.Equal(2, results.Count);
        Assert.Equal(("ed25519-sha256", "brisbane", DkimResult.Pass, (string?)null), (results[0].Algorithm, results[0].Selector, results[0].Result, results[0].Reason));
        Assert.Equal(("rsa-sha256", "test", DkimResult.Pass, (string?)null), (results[1].Algorithm, results[1].Selector, results[1].Result, results[1].Reason));
        Assert.All(results, r => Assert.Equal("@football.example.com", r.HeaderI));
        Assert.Equal(256, results[0].KeyBits);
    }

    [Fact]
    public async Task Rfc8463_A3_passes_when_streamed_byte_by_byte_and_in_pieces()
    {
        byte[] message = DkimTestData.Bytes("rfc8463", "A3-signed.eml");
        var splits = await StreamingVerification.EverySplitAsync(() => new DkimVerifier(Rfc8463Dns(), timeProvider: Clock), message);
        Assert.Equal(3, splits.Count);
        foreach ((string how, IReadOnlyList<DkimVerificationResult> results) in splits)
        {
            Assert.True(results.Count == 2 && results.All(r => r.IsPass), how);
        }
    }

    [Fact]
    public async Task Rfc8463_A3_ed25519_signature_with_one_changed_byte_fails()
    {
        string text = DkimTestData.Text("rfc8463", "A3-signed.eml");
        string changed = text.Replace("b=/gCrinpcQOoIfuHN", "b=/gCrinpcQOoIfuHM", StringComparison.Ordinal);
        Assert.NotEqual(text, changed);
        var verifier = new DkimVerifier(Rfc8463Dns(), timeProvider: Clock);
        IReadOnlyList<DkimVerificationResult> results = await verifier.VerifyMessageAsync(DkimTestData.Latin1(changed));
        Assert.Equal((DkimResult.Fail, "signature did not verify"), (results[0].Result, results[0].Reason));
        Assert.Equal(DkimResult.Pass, results[1].Result);
    }

    [Fact]
    public async Task Keys_are_cached_between_messages()
    {
        var dns = Rfc8463Dns();
        var verifier = new DkimVerifier(dns, timeProvider: Clock);
        byte[] message = DkimTestData.Bytes("rfc8463", "A3-signed.eml");
        Assert.All(await verifier.VerifyMessageAsync(message), r => Assert.True(r.IsPass));
        Assert.All(await verifier.VerifyMessageAsync(message), r => Assert.True(r.IsPass));
        Assert.Equal(2, dns.TxtQueries);
    }
}
