using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>A changed body with a bad key: RFC 6376 checks the key (6.1.2) before the hashes (6.1.3), so the key
/// problem is the result; only a usable key gives "fail (body hash did not verify)". Messages written here,
/// signed by our signer, the body changed after signing.</summary>
public class BodyHashKeyOrderTests
{
    private const string Name = "sel._domainkey.example.com";
    private const string Changed = " (and the body hash did not verify)";

    private static readonly DkimPrivateKey Ed = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
    private static readonly DkimPrivateKey Rsa = DkimPrivateKey.Generate(DkimKeyType.Rsa, 1024);

    private static readonly string Message =
        "From: Rosa <rosa@example.com>\r\nTo: Paul <paul@example.net>\r\nSubject: the quarterly figures\r\n"
        + "Date: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <q4@example.com>\r\n\r\n"
        + "Paul,\r\n\r\nthe figures are attached: revenue up 3%, costs flat.\r\n\r\nRosa\r\n";

    /// <summary>The message signed with <paramref name="key"/> (d=example.com, s=sel), then its body changed.</summary>
    private static byte[] Sign(DkimPrivateKey key, string? identity = null, bool changeBody = true, TimeSpan? lifetime = null,
        long? signedAt = null)
    {
        byte[] signed = new DkimSigner(new DkimSignerOptions
        {
            Domain = "example.com", Selector = "sel", Key = key, Identity = identity, SignatureLifetime = lifetime,
            TimeProvider = signedAt is long t ? new FixedTimeProvider(t) : TimeProvider.System,
        }).SignMessageToBytes(Encoding.ASCII.GetBytes(Message), out DkimSignResult result);
        Assert.True(result.Success, result.Error);
        string text = Encoding.ASCII.GetString(signed);
        return Encoding.ASCII.GetBytes(changeBody ? text.Replace("up 3%", "up 30%", StringComparison.Ordinal) : text);
    }

    private static async Task<DkimVerificationResult> VerifyAsync(byte[] message, InMemoryDnsResolver dns,
        DkimVerifierOptions? options = null) =>
        Assert.Single(await new DkimVerifier(dns, options).VerifyMessageAsync(message));

    private static string Ed25519Record(int keyBytes) =>
        "v=DKIM1; k=ed25519; p=" + Convert.ToBase64String(new byte[keyBytes].Select((_, i) => (byte)(i * 7 + 1)).ToArray());

    public static TheoryData<string, string, DkimResult, string> BadKeys() => new()
    {
        { "ed25519 key of 31 bytes", Ed25519Record(31), DkimResult.PermError, "malformed key record: ed25519 key is not 32 bytes" },
        { "ed25519 key of 33 bytes", Ed25519Record(33), DkimResult.PermError, "malformed key record: ed25519 key is not 32 bytes" },
        { "revoked (empty p=)", "v=DKIM1; k=ed25519; p=", DkimResult.PermError, "key revoked" },
        { "no p= at all", "v=DKIM1; k=ed25519", DkimResult.PermError, "malformed key record: missing p=" },
        { "tag-list syntax", "v=DKIM1; k=ed25519; p", DkimResult.PermError, "malformed key record: missing '=' after tag \"p\"" },
        { "rsa key for an ed25519 signature", Rsa.PublicKeyRecord, DkimResult.PermError, "key type does not match algorithm" },
        { "h= without sha256", Ed.PublicKeyRecord + "; h=sha1", DkimResult.PermError, "key does not allow sha256" },
        { "not for email", Ed.PublicKeyRecord + "; s=tlsrpt", DkimResult.PermError, "key not for email" },
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task A_changed_body_with_an_unusable_key_reports_the_key_problem(string what, string record, DkimResult result,
        string reason)
    {
        var dns = new InMemoryDnsResolver().AddTxt(Name, record);
        DkimVerificationResult r = await VerifyAsync(Sign(Ed), dns);
        Assert.True((result, reason + Changed) == (r.Result, r.Reason), $"{what}: {r.ResultKeyword} ({r.Reason})");
        // the same key with the unchanged body: the same result, without the note
        DkimVerificationResult intact = await VerifyAsync(Sign(Ed, changeBody: false), dns);
        Assert.Equal((result, reason), (intact.Result, intact.Reason));
    }

    [Fact]
    public async Task A_changed_body_without_a_key_record_is_permerror()
    {
        var nxdomain = new InMemoryDnsResolver();
        Assert.Equal((DkimResult.PermError, "no key for signature" + Changed), Of(await VerifyAsync(Sign(Ed), nxdomain)));
        var noData = new InMemoryDnsResolver().Set(Name, DnsAnswer<string>.NoData);
        Assert.Equal((DkimResult.PermError, "no key for signature" + Changed), Of(await VerifyAsync(Sign(Ed), noData)));
        var two = new InMemoryDnsResolver().AddTxt(Name, Ed.PublicKeyRecord, Ed.PublicKeyRecord);
        Assert.Equal((DkimResult.PermError, "several key records" + Changed), Of(await VerifyAsync(Sign(Ed), two)));
    }

    [Fact]
    public async Task A_changed_body_whose_key_lookup_times_out_is_temperror_saying_the_body_failed()
    {
        var dns = new InMemoryDnsResolver().Set(Name, DnsAnswer<string>.TimedOut);
        Assert.Equal((DkimResult.TempError, "DNS timeout" + Changed), Of(await VerifyAsync(Sign(Ed), dns)));
    }

    [Fact]
    public async Task A_changed_body_with_a_strict_key_and_a_subdomain_identity_is_permerror()
    {
        var dns = new InMemoryDnsResolver().AddTxt(Name, Ed.PublicKeyRecord + "; t=s");
        DkimVerificationResult r = await VerifyAsync(Sign(Ed, identity: "rosa@mail.example.com"), dns);
        Assert.Equal((DkimResult.PermError, "i= domain must equal d= (key has t=s)" + Changed), Of(r));
    }

    [Fact]
    public async Task A_changed_body_with_a_key_below_the_minimum_size_is_policy()
    {
        var dns = new InMemoryDnsResolver().AddTxt(Name, Rsa.PublicKeyRecord);
        DkimVerificationResult r = await VerifyAsync(Sign(Rsa), dns, new DkimVerifierOptions { MinimumKeyBits = 2048 });
        Assert.Equal((DkimResult.Policy, "key too short (1024 bits)" + Changed), Of(r));
    }

    [Theory]
    [InlineData(DkimKeyType.Ed25519)]
    [InlineData(DkimKeyType.Rsa)]
    public async Task A_changed_body_with_a_good_key_is_fail_and_carries_the_key(DkimKeyType type)
    {
        DkimPrivateKey key = type == DkimKeyType.Rsa ? Rsa : Ed;
        var dns = new InMemoryDnsResolver().AddTxt(Name, key.PublicKeyRecord + "; t=y");
        DkimVerificationResult r = await VerifyAsync(Sign(key), dns);
        Assert.Equal((DkimResult.Fail, "body hash did not verify"), Of(r));
        Assert.True(r.Testing);
        Assert.Equal(key.KeySizeBits, r.KeyBits);
    }

    [Fact]
    public async Task Changed_bodies_from_one_signer_cost_one_key_query()
    {
        var dns = new InMemoryDnsResolver().AddTxt(Name, Ed25519Record(31));
        var verifier = new DkimVerifier(dns);
        for (int i = 0; i < 3; i++)
        {
            DkimVerificationResult r = Assert.Single(await verifier.VerifyMessageAsync(Sign(Ed)));
            Assert.Equal(DkimResult.PermError, r.Result);
        }
        Assert.Equal(1, dns.TxtQueries);
    }

    [Fact]
    public async Task A_signature_rejected_before_the_key_is_needed_still_costs_no_query()
    {
        // 6.1.1 problems come first whatever the body: an expired signature with a changed body and no key
        byte[] expired = Sign(Ed, lifetime: TimeSpan.FromHours(1), signedAt: 1_700_000_000);
        var dns = new InMemoryDnsResolver();
        Assert.Equal((DkimResult.PermError, "signature expired"), Of(await VerifyAsync(expired, dns)));
        Assert.Equal(0, dns.TxtQueries);
    }

    private static (DkimResult, string?) Of(DkimVerificationResult r) => (r.Result, r.Reason);
}
