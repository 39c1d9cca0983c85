using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>Our signer's output through our verifier, and header-limit behaviour.</summary>
public class SignerRoundTripTests
{
    private const long Now = 1_767_225_600;

    private static readonly byte[] Message = Encoding.ASCII.GetBytes(
        "From: Joe <joe@example.com>\r\nTo: a@example.net\r\nSubject:  hello\r\n   world\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        + "Message-ID: <x@example.com>\r\n\r\nBody  text \r\nline two\r\n\r\n\r\n");

    private static readonly DkimPrivateKey RsaKey = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
    private static readonly DkimPrivateKey EdKey = DkimPrivateKey.Generate(DkimKeyType.Ed25519);

    public static TheoryData<DkimKeyType, DkimCanonicalization, DkimCanonicalization> Cases()
    {
        var data = new TheoryData<DkimKeyType, DkimCanonicalization, DkimCanonicalization>();
        foreach (DkimKeyType type in new[] { DkimKeyType.Rsa, DkimKeyType.Ed25519 })
        {
            foreach (DkimCanonicalization h in new[] { DkimCanonicalization.Simple, DkimCanonicalization.Relaxed })
            {
                foreach (DkimCanonicalization b in new[] { DkimCanonicalization.Simple, DkimCanonicalization.Relaxed })
                {
                    data.Add(type, h, b);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Our_signatures_verify(DkimKeyType type, DkimCanonicalization header, DkimCanonicalization body)
    {
        DkimPrivateKey key = type == DkimKeyType.Rsa ? RsaKey : EdKey;
        var signer = new DkimSigner(new DkimSignerOptions
        {
            Domain = "example.com", Selector = "s1", Key = key, HeaderCanonicalization = header,
            BodyCanonicalization = body, TimeProvider = new FixedTimeProvider(Now),
        });
        byte[] signed = signer.SignMessageToBytes(Message, out DkimSignResult result);
        Assert.True(result.Success, result.Error);
        var dns = new InMemoryDnsResolver().AddTxt("s1._domainkey.example.com", key.PublicKeyRecord);
        var verifier = new DkimVerifier(dns, timeProvider: new FixedTimeProvider(Now + 5));
        DkimVerificationResult r = Assert.Single(await verifier.VerifyMessageAsync(signed));
        Assert.True(r.IsPass, r.Reason);
        Assert.Equal(key.Algorithm, r.Algorithm);
    }

    [Fact]
    public async Task Too_many_header_fields_make_every_signature_permerror()
    {
        byte[] signed = new DkimSigner(new DkimSignerOptions { Domain = "example.com", Selector = "s1", Key = EdKey })
            .SignMessageToBytes(Message, out _);
        var dns = new InMemoryDnsResolver().AddTxt("s1._domainkey.example.com", EdKey.PublicKeyRecord);
        var options = new DkimVerifierOptions { MaxHeaderCount = 10 };
        RawMessage parsed = RawMessageParser.Parse(signed);
        var verifier = new DkimVerifier(dns, options);
        using DkimVerifierContext context = verifier.CreateContext();
        foreach (RawHeaderField f in parsed.Headers)
        {
            context.AddHeader(f.Name.Span, f.Value.Span);
        }
        for (int i = 0; i < 10; i++)
        {
            context.AddHeader("X-Filler"u8, " filler"u8);
        }
        context.AppendBody(parsed.Body.Span);
        Assert.True(context.HeaderLimitExceeded);
        DkimVerificationResult r = Assert.Single(await context.CompleteAsync());
        Assert.Equal((DkimResult.PermError, "message header too large"), (r.Result, r.Reason));
        Assert.True((await verifier.VerifyMessageAsync(signed)).Single().IsPass);
    }

    [Fact]
    public async Task Oversized_key_record_is_permerror()
    {
        byte[] signed = new DkimSigner(new DkimSignerOptions { Domain = "example.com", Selector = "s1", Key = EdKey })
            .SignMessageToBytes(Message, out _);
        string huge = EdKey.PublicKeyRecord + "; n=" + new string('x', DkimKeyRecord.MaxRecordLength);
        var dns = new InMemoryDnsResolver().AddTxt("s1._domainkey.example.com", huge);
        DkimVerificationResult r = Assert.Single(await new DkimVerifier(dns).VerifyMessageAsync(signed));
        Assert.Equal((DkimResult.PermError, "key record too large"), (r.Result, r.Reason));
    }

    [Fact]
    public void Context_rejects_headers_after_the_body()
    {
        using DkimVerifierContext context = new DkimVerifier(new InMemoryDnsResolver()).CreateContext();
        context.AppendBody("x"u8);
        Assert.Throws<InvalidOperationException>(() => context.AddHeader("From"u8, " a@b.c"u8));
    }
}
