using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

public class DkimSignerTests
{
    private static readonly DkimPrivateKey Ed = DkimPrivateKey.Load("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=").Key!;

    private static DkimSigner Signer(Action<DkimSignerOptionsBuilder>? configure = null)
    {
        var b = new DkimSignerOptionsBuilder();
        configure?.Invoke(b);
        return new DkimSigner(b.Build());
    }

    private static DkimTagList Sign(DkimSigner signer, string message)
    {
        DkimSignResult r = signer.SignMessage(Encoding.ASCII.GetBytes(message));
        Assert.True(r.Success, r.Error);
        Assert.True(DkimTagList.TryParse(r.Header!.Value, out DkimTagList? tags, out string? error), error);
        return tags!;
    }

    private static string H(DkimTagList tags) => string.Concat(tags["h"]!.Where(c => !char.IsWhiteSpace(c)));

    [Fact]
    public void ListsOnlyPresentHeadersInstancesBottomUpAndOversignsFrom()
    {
        DkimTagList tags = Sign(Signer(), "Received: x\r\nTo: a@example.net\r\nFrom: f@example.com\r\nTo: b@example.net\r\n" +
                                          "X-Mailer: y\r\nsubject: s\r\n\r\nbody\r\n");
        Assert.Equal("From:To:To:Subject:From", H(tags));
    }

    [Fact]
    public void OversignedNamesAreListedOnceMoreThanTheyOccur()
    {
        DkimSigner signer = Signer(b => b.Oversigned = ["From", "Subject", "Reply-To"]);
        DkimTagList tags = Sign(signer, "From: f@example.com\r\nSubject: a\r\nSubject: b\r\n\r\n");
        Assert.Equal("From:Subject:Subject:From:Subject:Reply-To", H(tags));
    }

    [Fact]
    public void BottomUpOrderIsWhatTheSignatureCovers()
    {
        // Two To fields: swapping them must break nothing for h= order but changes the header hash.
        DkimSigner signer = Signer(b => b.HeaderCanonicalization = DkimCanonicalization.Simple);
        DkimTagList a = Sign(signer, "From: f@example.com\r\nTo: 1@example.net\r\nTo: 2@example.net\r\n\r\n");
        DkimTagList b = Sign(signer, "From: f@example.com\r\nTo: 2@example.net\r\nTo: 1@example.net\r\n\r\n");
        Assert.Equal(H(a), H(b));
        Assert.NotEqual(a["b"], b["b"]);
    }

    [Fact]
    public void WritesTimestampExpirationAndIdentity()
    {
        DkimSigner signer = Signer(b =>
        {
            b.Lifetime = TimeSpan.FromHours(1);
            b.Identity = "@mail.example.com";
        });
        DkimTagList tags = Sign(signer, "From: f@example.com\r\n\r\n");
        Assert.Equal("1000000", tags["t"]);
        Assert.Equal("1003600", tags["x"]);
        Assert.Equal("@mail.example.com", tags["i"]);
        Assert.Equal("1", tags["v"]);
        Assert.Equal("ed25519-sha256", tags["a"]);
        Assert.Equal("relaxed/relaxed", tags["c"]);
        Assert.Equal(["v", "a", "c", "d", "s", "t", "x", "i", "h", "bh", "b"], tags.Tags.Select(t => t.Name));
    }

    [Fact]
    public void OmitsTimestampWhenAsked()
    {
        DkimTagList tags = Sign(Signer(b => b.IncludeTimestamp = false), "From: f@example.com\r\n\r\n");
        Assert.Null(tags["t"]);
        Assert.Null(tags["x"]);
    }

    [Theory]
    [InlineData("domain", "exa mple.com", "Invalid signing domain")]
    [InlineData("selector", "", "Invalid selector")]
    [InlineData("identity", "joe@other.com", "must be @example.com")]
    [InlineData("identity", "joe@notexample.com", "must be @example.com")]
    [InlineData("headers", "To", "must include From")]
    [InlineData("headers", "From:X", "Invalid header field name")]
    public void RejectsBadConfigurationOnce(string what, string value, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Signer(b =>
        {
            switch (what)
            {
                case "domain": b.Domain = value; break;
                case "selector": b.Selector = value; break;
                case "identity": b.Identity = value; break;
                default:
                    b.Headers = value.Split(',');
                    b.Oversigned = [];
                    break;
            }
        }));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AcceptsIdentityInASubdomain()
    {
        DkimTagList tags = Sign(Signer(b => b.Identity = "joe@sub.example.com"), "From: f@example.com\r\n\r\n");
        Assert.Equal("joe@sub.example.com", tags["i"]);
    }

    [Fact]
    public void TooManySignedHeadersIsAResultNotAnException()
    {
        DkimSigner signer = Signer(b => b.MaxFields = 3);
        DkimSignResult r = signer.SignMessage(Encoding.ASCII.GetBytes("From: a\r\nTo: b\r\nTo: c\r\nTo: d\r\n\r\n"));
        Assert.False(r.Success);
        Assert.Contains("too many", r.Error);
    }

    [Fact]
    public void StreamingByteByByteGivesTheSameSignatureAsTheWholeMessage()
    {
        DkimSigner signer = Signer();
        byte[] message = Encoding.ASCII.GetBytes("From: f@example.com\r\nSubject: x\r\n\r\n a  b \r\n\r\nc\r\n\r\n");
        DkimSignResult whole = signer.SignMessage(message);
        RawMessage raw = RawMessageParser.Parse(message);
        using DkimSigningContext context = signer.CreateContext();
        context.AddHeader("From", " f@example.com");
        context.AddHeader("Subject", " x");
        foreach (byte b in raw.Body.Span)
        {
            context.AppendBody([b]);
        }
        Assert.Equal(whole.Header, context.Complete().Header);
    }

    [Fact]
    public void SignMessageToBytesPutsTheFieldOnTop()
    {
        byte[] message = Encoding.ASCII.GetBytes("From: f@example.com\r\n\r\nhi\r\n");
        byte[] signed = Signer().SignMessageToBytes(message, out DkimSignResult r);
        Assert.True(r.Success);
        string text = Encoding.ASCII.GetString(signed);
        Assert.StartsWith("DKIM-Signature: v=1;", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\nFrom: f@example.com\r\n\r\nhi\r\n", text, StringComparison.Ordinal);
        Assert.Equal(2, RawMessageParser.Parse(signed).Headers.Count);
    }

    internal sealed class DkimSignerOptionsBuilder
    {
        public string Domain = "example.com";
        public string Selector = "sel";
        public string? Identity;
        public TimeSpan? Lifetime;
        public bool IncludeTimestamp = true;
        public string[]? Headers;
        public string[]? Oversigned;
        public int MaxFields = 1000;
        public DkimCanonicalization HeaderCanonicalization = DkimCanonicalization.Relaxed;

        public DkimSignerOptions Build() => new()
        {
            Domain = Domain,
            Selector = Selector,
            Key = Ed,
            Identity = Identity,
            SignatureLifetime = Lifetime,
            IncludeTimestamp = IncludeTimestamp,
            SignedHeaders = Headers,
            OversignedHeaders = Oversigned,
            MaxSignedHeaderFields = MaxFields,
            HeaderCanonicalization = HeaderCanonicalization,
            TimeProvider = new FixedTimeProvider(1_000_000),
        };
    }
}
