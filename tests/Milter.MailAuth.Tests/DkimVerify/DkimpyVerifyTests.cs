using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>Messages signed by dkimpy verified here, intact and tampered.</summary>
public class DkimpyVerifyTests(DkimpyCorpus corpus) : IClassFixture<DkimpyCorpus>
{
    public static TheoryData<string> Canonicalizations() => new(DkimpyCorpus.Canonicalizations);

    private static DkimVerifier Verifier(IDnsResolver dns, long now = DkimpyCorpus.VerifyTime,
        DkimVerifierOptions? options = null) => new(dns, options, new FixedTimeProvider(now));

    private async Task<IReadOnlyList<DkimVerificationResult>> Verify(byte[] message, InMemoryDnsResolver? dns = null,
        long now = DkimpyCorpus.VerifyTime, DkimVerifierOptions? options = null) =>
        await Verifier(dns ?? corpus.Dns(), now, options).VerifyMessageAsync(message);

    private async Task<DkimVerificationResult> VerifySingle(string name, InMemoryDnsResolver? dns = null,
        long now = DkimpyCorpus.VerifyTime, DkimVerifierOptions? options = null) =>
        Assert.Single(await Verify(corpus[name], dns, now, options));

    private static void AssertResult(DkimVerificationResult r, DkimResult result, string? reason)
    {
        Assert.Equal((result, reason), (r.Result, r.Reason));
    }

    [Theory]
    [MemberData(nameof(Canonicalizations))]
    public async Task Rsa_and_ed25519_signatures_pass(string c)
    {
        foreach (string kind in new[] { "pair ", "folded ", "empty-body " })
        {
            IReadOnlyList<DkimVerificationResult> results = await Verify(corpus[kind + c]);
            Assert.Equal(2, results.Count);
            Assert.True(results.All(r => r.IsPass), $"{kind}{c}: {results[0].Reason} / {results[1].Reason}");
            Assert.Equal("ed25519-sha256", results[0].Algorithm); // the last signature added is on top
            Assert.Equal("rsa-sha256", results[1].Algorithm);
            Assert.Equal(2048, results[1].KeyBits);
            Assert.Equal("@example.com", results[1].HeaderI);
        }
    }

    [Theory]
    [MemberData(nameof(Canonicalizations))]
    public async Task Signatures_with_l_pass_and_are_flagged(string c)
    {
        IReadOnlyList<DkimVerificationResult> results = await Verify(corpus["pair-l " + c]);
        Assert.All(results, r =>
        {
            AssertResult(r, DkimResult.Pass, null);
            Assert.True(r.BodyLengthLimited);
            Assert.Equal(0, r.UnsignedBodyBytes);
        });
    }

    [Theory]
    [MemberData(nameof(Canonicalizations))]
    public async Task Content_appended_after_l_is_policy_by_default_and_pass_when_allowed(string c)
    {
        byte[] appended = [.. corpus["pair-l " + c], .. "Appended by someone else.\r\n"u8];
        Assert.All(await Verify(appended), r =>
        {
            Assert.Equal(DkimResult.Policy, r.Result);
            Assert.StartsWith("body length limit leaves ", r.Reason);
            Assert.True(r.UnsignedBodyBytes > 0);
        });
        var lenient = new DkimVerifierOptions { BodyLengthPolicy = DkimBodyLengthPolicy.Pass };
        Assert.All(await Verify(appended, options: lenient), r =>
        {
            AssertResult(r, DkimResult.Pass, null);
            Assert.True(r.UnsignedBodyBytes > 0);
        });
    }

    [Theory]
    [MemberData(nameof(Canonicalizations))]
    public async Task Streaming_in_any_split_gives_the_same_results(string c)
    {
        var splits = await StreamingVerification.EverySplitAsync(() => Verifier(corpus.Dns()), corpus["pair " + c]);
        Assert.Equal(3, splits.Count);
        foreach ((string how, IReadOnlyList<DkimVerificationResult> results) in splits)
        {
            Assert.True(results.Count == 2 && results.All(r => r.IsPass), how);
        }
    }

    [Fact]
    public async Task Several_domains_on_one_message_all_pass()
    {
        IReadOnlyList<DkimVerificationResult> results = await Verify(corpus["three-domains"]);
        Assert.Equal(["sub.example.com", "example.org", "example.com"], results.Select(r => r.Domain));
        Assert.All(results, r => AssertResult(r, DkimResult.Pass, null));
        Assert.Equal("joe@sub.example.com", results[0].HeaderI);
    }

    [Fact]
    public async Task Only_MaxSignatures_are_checked_the_rest_reported_neutral()
    {
        var dns = corpus.Dns();
        IReadOnlyList<DkimVerificationResult> results = await Verify(corpus["six"], dns);
        Assert.Equal(6, results.Count);
        Assert.All(results.Take(5), r => AssertResult(r, DkimResult.Pass, null));
        AssertResult(results[5], DkimResult.Neutral, "not checked (limit of 5 signatures)");
        Assert.Equal(2, dns.TxtQueries); // one query per distinct key record
        var two = new DkimVerifierOptions { MaxSignatures = 2 };
        Assert.Equal(2, (await Verify(corpus["six"], options: two)).Count(r => r.IsPass));
    }

    [Fact]
    public async Task A_1024_bit_key_passes()
    {
        DkimVerificationResult r = await VerifySingle("k1024");
        AssertResult(r, DkimResult.Pass, null);
        Assert.Equal(1024, r.KeyBits);
    }

    [Fact]
    public async Task A_512_bit_key_is_policy()
    {
        AssertResult(await VerifySingle("rsa512"), DkimResult.Policy, "key too short (512 bits)");
        var relaxed = new DkimVerifierOptions { MinimumKeyBits = 512 };
        AssertResult(await VerifySingle("rsa512", options: relaxed), DkimResult.Pass, null);
    }

    [Fact]
    public async Task Rsa_sha1_is_policy_without_a_dns_query()
    {
        var dns = corpus.Dns();
        DkimVerificationResult r = await VerifySingle("rsa-sha1", dns);
        AssertResult(r, DkimResult.Policy, "rsa-sha1 not accepted (RFC 8301)");
        Assert.Equal("rsa-sha1", r.Algorithm);
        Assert.Equal(0, dns.TxtQueries);
    }

    [Fact]
    public async Task Expired_signature_is_permerror()
    {
        AssertResult(await VerifySingle("expired"), DkimResult.PermError, "signature expired");
        // within the clock drift of x= it still passes
        AssertResult(await VerifySingle("expired", now: DkimpyCorpus.SignTime - 1800 + 299), DkimResult.Pass, null);
        AssertResult(await VerifySingle("expires-later"), DkimResult.Pass, null);
        AssertResult(await VerifySingle("expires-later", now: DkimpyCorpus.SignTime + 3600 + 301), DkimResult.PermError,
            "signature expired");
    }

    [Fact]
    public async Task Timestamp_in_the_future_is_permerror_beyond_the_clock_drift()
    {
        AssertResult(await VerifySingle("future"), DkimResult.PermError, "signature timestamp in the future");
        AssertResult(await VerifySingle("future", now: DkimpyCorpus.SignTime + 3600 - 300), DkimResult.Pass, null);
    }

    [Fact]
    public async Task Identity_outside_d_is_permerror()
    {
        DkimVerificationResult r = await VerifySingle("identity-outside");
        AssertResult(r, DkimResult.PermError, "i= domain not within d=");
        Assert.Equal("@evilexample.com", r.HeaderI);
    }

    [Fact]
    public async Task Key_with_t_s_needs_i_domain_equal_to_d()
    {
        AssertResult(await VerifySingle("strict-subdomain"), DkimResult.PermError, "i= domain must equal d= (key has t=s)");
        AssertResult(await VerifySingle("strict-same"), DkimResult.Pass, null);
    }

    [Fact]
    public async Task Key_with_t_y_is_reported_as_testing()
    {
        DkimVerificationResult r = await VerifySingle("testing");
        AssertResult(r, DkimResult.Pass, null);
        Assert.True(r.Testing);
    }

    [Fact]
    public async Task Unknown_tags_are_ignored()
    {
        Assert.Contains("zz=whatever value", Encoding.ASCII.GetString(corpus["unknown-tag"]));
        AssertResult(await VerifySingle("unknown-tag"), DkimResult.Pass, null);
    }

    [Fact]
    public async Task Changed_body_byte_fails_on_the_body_hash()
    {
        byte[] changed = Replace(corpus["pair relaxed/relaxed"], "We lost", "We won ");
        Assert.All(await Verify(changed), r => AssertResult(r, DkimResult.Fail, "body hash did not verify"));
    }

    [Fact]
    public async Task Changed_signed_header_fails_on_the_signature()
    {
        byte[] changed = Replace(corpus["pair simple/simple"], "Subject: Is dinner", "Subject: Is lunch ");
        Assert.All(await Verify(changed), r => AssertResult(r, DkimResult.Fail, "signature did not verify"));
    }

    [Fact]
    public async Task From_added_above_fails_when_From_is_over_signed()
    {
        byte[] changed = [.. "From: Mallory <mallory@example.com>\r\n"u8, .. corpus["pair relaxed/relaxed"]];
        Assert.All(await Verify(changed), r => AssertResult(r, DkimResult.Fail, "signature did not verify"));
        // without over-signing, a From added above is not covered and the signature still verifies (RFC 6376 8.15)
        byte[] notOversigned = [.. "From: Mallory <mallory@example.com>\r\n"u8, .. corpus["not-oversigned"]];
        AssertResult(Assert.Single(await Verify(notOversigned)), DkimResult.Pass, null);
    }

    [Fact]
    public async Task Unsigned_header_added_still_passes()
    {
        byte[] changed = [.. "Received: from somewhere by mx.example.net; Thu, 1 Jan 2026 00:00:00 +0000\r\n"u8,
            .. corpus["pair simple/simple"]];
        Assert.All(await Verify(changed), r => AssertResult(r, DkimResult.Pass, null));
    }

    [Fact]
    public async Task Revoked_key_is_permerror()
    {
        var dns = corpus.Dns().AddTxt("rsa._domainkey.example.com", "v=DKIM1; k=rsa; p=");
        IReadOnlyList<DkimVerificationResult> results = await Verify(corpus["pair relaxed/relaxed"], dns);
        AssertResult(results[1], DkimResult.PermError, "key revoked");
        AssertResult(results[0], DkimResult.Pass, null);
    }

    [Fact]
    public async Task Missing_key_is_permerror()
    {
        var nx = new InMemoryDnsResolver();
        Assert.All(await Verify(corpus["pair relaxed/relaxed"], nx), r => AssertResult(r, DkimResult.PermError, "no key for signature"));
        var nodata = new InMemoryDnsResolver().Set("rsa._domainkey.example.com", DnsAnswer<string>.NoData);
        AssertResult(await VerifySingle("k1024", nodata), DkimResult.PermError, "no key for signature");
    }

    [Theory]
    [InlineData(DnsStatus.Timeout, "DNS timeout")]
    [InlineData(DnsStatus.ServerFailure, "DNS server failure")]
    [InlineData(DnsStatus.Error, "DNS error")]
    public async Task Dns_failure_is_temperror_and_not_cached(DnsStatus status, string reason)
    {
        var dns = corpus.Dns().Set("rsa._domainkey.example.com", new DnsAnswer<string>(status, [], "x"));
        DkimVerifier verifier = Verifier(dns);
        IReadOnlyList<DkimVerificationResult> results = await verifier.VerifyMessageAsync(corpus["pair relaxed/relaxed"]);
        AssertResult(results[1], DkimResult.TempError, reason);
        AssertResult(results[0], DkimResult.Pass, null);
        dns.AddTxt("rsa._domainkey.example.com", corpus.RsaRecord);
        Assert.All(await verifier.VerifyMessageAsync(corpus["pair relaxed/relaxed"]), r => Assert.True(r.IsPass));
    }

    [Fact]
    public async Task Resolver_exception_is_temperror()
    {
        DkimVerifier verifier = Verifier(new ThrowingResolver());
        Assert.All(await verifier.VerifyMessageAsync(corpus["pair relaxed/relaxed"]),
            r => AssertResult(r, DkimResult.TempError, "DNS error"));
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        DkimVerifier verifier = Verifier(new ThrowingResolver());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            verifier.VerifyMessageAsync(corpus["pair relaxed/relaxed"], cts.Token));
    }

    [Fact]
    public async Task Several_key_records_are_permerror()
    {
        var dns = corpus.Dns().AddTxt("rsa._domainkey.example.com", corpus.RsaRecord, corpus.RsaRecord);
        AssertResult((await Verify(corpus["pair relaxed/relaxed"], dns))[1], DkimResult.PermError, "several key records");
    }

    [Theory]
    [InlineData("v=DKIM1; k=rsa; p=MIIB%%%", "malformed key record: bad base64 in p=")]
    [InlineData("v=DKIM1; k=rsa; p=MIIB\u0001", "malformed key record: invalid character in value of tag \"p\"")]
    [InlineData("v=DKIM1; k=rsa; p=AAAA", "malformed key record: p= is not an RSA public key")]
    [InlineData("k=rsa; v=DKIM1; p=AAAA", "malformed key record: bad v=")]
    [InlineData("v=DKIM1; k=rsa", "malformed key record: missing p=")]
    [InlineData("v=DKIM1; k=rsa; p", "malformed key record: missing '=' after tag \"p\"")]
    [InlineData("v=DKIM1; k=dsa; p=AAAA", "unsupported key type")]
    public async Task Malformed_key_record_is_permerror(string record, string reason)
    {
        var dns = corpus.Dns().AddTxt("rsa._domainkey.example.com", record);
        AssertResult((await Verify(corpus["pair relaxed/relaxed"], dns))[1], DkimResult.PermError, reason);
    }

    [Fact]
    public async Task Key_record_options_are_applied()
    {
        string p = Convert.ToBase64String(corpus.Rsa2048PublicSpki);
        (string Record, DkimResult Result, string? Reason)[] cases =
        [
            ("v=DKIM1; h=sha1; p=" + p, DkimResult.PermError, "key does not allow sha256"),
            ("v=DKIM1; h=sha1:sha256; p=" + p, DkimResult.Pass, null),
            ("v=DKIM1; s=other; p=" + p, DkimResult.PermError, "key not for email"),
            ("v=DKIM1; s=email:other; p=" + p, DkimResult.Pass, null),
            ("v=DKIM1; s=*; p=" + p, DkimResult.Pass, null),
            (corpus.EdRecord, DkimResult.PermError, "key type does not match algorithm"),
            ("p=" + p, DkimResult.Pass, null), // v= and k= are optional
            ("v=DKIM1; p=" + Convert.ToBase64String(corpus.Rsa2048PublicPkcs1), DkimResult.Pass, null), // PKCS#1
            (" v = DKIM1 ;\t k = rsa ; n = a note ; p = " + p[..40] + " \r\n\t" + p[40..] + " ; ", DkimResult.Pass, null),
        ];
        foreach ((string record, DkimResult result, string? reason) in cases)
        {
            var dns = corpus.Dns().AddTxt("rsa._domainkey.example.com", record);
            DkimVerificationResult r = (await Verify(corpus["pair relaxed/relaxed"], dns))[1];
            Assert.True((result, reason) == (r.Result, r.Reason), $"{record}: {r.Result} {r.Reason}");
        }
    }

    [Fact]
    public async Task Wrong_key_fails_on_the_signature()
    {
        var dns = corpus.Dns().AddTxt("rsa._domainkey.example.com", corpus.Records["k1024._domainkey.example.com"]);
        AssertResult((await Verify(corpus["pair relaxed/relaxed"], dns))[1], DkimResult.Fail, "signature did not verify");
    }

    [Fact]
    public async Task H_without_From_is_permerror()
    {
        string text = Encoding.ASCII.GetString(corpus["not-oversigned"]);
        int h = text.IndexOf("h=from", StringComparison.Ordinal);
        Assert.True(h > 0);
        string changed = text[..h] + "h=x-from" + text[(h + 6)..];
        AssertResult(Assert.Single(await Verify(Encoding.ASCII.GetBytes(changed))), DkimResult.PermError, "From field not signed");
    }

    private static byte[] Replace(byte[] message, string from, string to)
    {
        string text = Encoding.ASCII.GetString(message);
        Assert.Contains(from, text);
        return Encoding.ASCII.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }

    private sealed class ThrowingResolver : IDnsResolver
    {
        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new InvalidOperationException("resolver bug");
        }

        public Task<DnsAnswer<System.Net.IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<DnsAnswer<string>> GetPtrAsync(System.Net.IPAddress address, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
