using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>
/// Deterministic signing vectors: go-msgauth's (TestData/dkim/sign-vectors) and RFC 8463 A.3. Our field
/// format differs from theirs, so the signer is given the vector's own text up to "b=" (test hook) and the
/// b= value must then match exactly.
/// </summary>
public class SignVectorTests
{
    private static readonly string[] GoHeaders = ["From", "To", "Subject", "Date", "Message-ID"];

    internal static DkimPrivateKey LoadKey(params string[] path)
    {
        DkimKeyLoadResult result = DkimPrivateKey.Load(DkimTestData.Text(path));
        Assert.True(result.Success, result.Error);
        return result.Key!;
    }

    /// <summary>Value of the index-th DKIM-Signature field of a vector file, and the message without it.</summary>
    private static string VectorSignature(byte[] signedMessage, int index)
    {
        RawMessage m = RawMessageParser.Parse(signedMessage);
        int seen = 0;
        foreach (RawHeaderField f in m.Headers)
        {
            if (f.NameString.Equals("DKIM-Signature", StringComparison.OrdinalIgnoreCase) && seen++ == index)
            {
                return Encoding.ASCII.GetString(f.Value.Span);
            }
        }
        throw new InvalidDataException("no such signature");
    }

    /// <summary>Signs with the vector's text up to "b=" and returns (our b=, vector b=).</summary>
    private static (string Ours, string Expected) SignLikeVector(DkimSignerOptions options, byte[] message, string vectorValue)
    {
        Assert.True(DkimTagList.TryParse(vectorValue, out DkimTagList? tags, out string? error), error);
        DkimTag b = tags!.Tags.Single(t => t.Name == "b");
        string template = (vectorValue[..b.ValueStart] + vectorValue[b.ValueEnd..]).TrimStart(' ');
        var hooked = new DkimSignerOptions
        {
            Domain = options.Domain,
            Selector = options.Selector,
            Key = options.Key,
            HeaderCanonicalization = options.HeaderCanonicalization,
            BodyCanonicalization = options.BodyCanonicalization,
            SignedHeaders = options.SignedHeaders,
            OversignedHeaders = options.OversignedHeaders,
            Identity = options.Identity,
            IncludeTimestamp = options.IncludeTimestamp,
            TimeProvider = options.TimeProvider,
            FormatOverride = fields =>
            {
                // what our signer computed must be what the vector says
                Assert.Equal(tags["bh"], fields.BodyHash);
                Assert.Equal(tags["a"], fields.Algorithm);
                Assert.Equal(tags["d"], fields.Domain);
                Assert.Equal(tags["s"], fields.Selector);
                Assert.Equal(tags["t"], fields.Timestamp?.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(tags["i"], fields.Identity);
                Assert.Equal(tags["c"], DkimCanonicalizationNames.ToPairValue(fields.HeaderCanonicalization, fields.BodyCanonicalization));
                string[] h = tags["h"]!.Split(':', StringSplitOptions.TrimEntries);
                Assert.Equal(h.Select(x => x.ToLowerInvariant()), fields.SignedHeaderNames.Select(x => x.ToLowerInvariant()));
                return template;
            },
        };
        DkimSignResult result = new DkimSigner(hooked).SignMessage(message);
        Assert.True(result.Success, result.Error);
        Assert.Equal(string.Concat(vectorValue.TrimStart(' ').Where(c => !char.IsWhiteSpace(c))),
            string.Concat(result.Header!.Value.Where(c => !char.IsWhiteSpace(c))));
        Assert.True(DkimTagList.TryParse(result.Header!.Value, out DkimTagList? ours, out error), error);
        string expected = string.Concat(tags["b"]!.Where(c => !char.IsWhiteSpace(c)));
        return (ours!["b"]!, expected);
    }

    private static DkimSignerOptions GoOptions(DkimPrivateKey key, string domain) => new()
    {
        Domain = domain,
        Selector = "brisbane",
        Key = key,
        HeaderCanonicalization = DkimCanonicalization.Simple,
        BodyCanonicalization = DkimCanonicalization.Simple,
        SignedHeaders = GoHeaders,
        OversignedHeaders = [],
        TimeProvider = new FixedTimeProvider(424242),
    };

    [Theory]
    [InlineData("rsa-sha256", "signed-rsa-sha256.eml", "example.org")]
    [InlineData("ed25519-sha256", "signed-ed25519-sha256.eml", "football.example.com")]
    public void GoMsgauthVectorSignatureMatchesExactly(string algorithm, string file, string domain)
    {
        using DkimPrivateKey key = algorithm == "rsa-sha256"
            ? LoadKey("rfc6376", "appC-rsa.private.pem")
            : LoadKey("rfc8463", "A1-ed25519.private.b64");
        byte[] unsigned = DkimTestData.Bytes("sign-vectors", "unsigned.eml");
        string vector = VectorSignature(DkimTestData.Bytes("sign-vectors", file), 0);

        (string ours, string expected) = SignLikeVector(GoOptions(key, domain), unsigned, vector);

        Assert.Equal(expected, ours);
    }

    [Fact]
    public void GoMsgauthVectorSignedMessageIsTheVectorWhenFormattedTheSameWay()
    {
        using DkimPrivateKey key = LoadKey("rfc6376", "appC-rsa.private.pem");
        byte[] unsigned = DkimTestData.Bytes("sign-vectors", "unsigned.eml");
        byte[] signedVector = DkimTestData.Bytes("sign-vectors", "signed-rsa-sha256.eml");
        string vector = VectorSignature(signedVector, 0);
        (string ours, _) = SignLikeVector(GoOptions(key, "example.org"), unsigned, vector);

        // re-fold our b= as the vector does and compare the whole message byte for byte
        int bAt = vector.IndexOf(" b=", StringComparison.Ordinal) + 3;
        string folded = vector[..bAt] + ours[..72] + "\r\n " + ours[72..147] + "\r\n " + ours[147..];
        byte[] rebuilt = Encoding.ASCII.GetBytes("DKIM-Signature:" + folded + "\r\n").Concat(unsigned).ToArray();
        Assert.Equal(Encoding.ASCII.GetString(signedVector), Encoding.ASCII.GetString(rebuilt));
    }

    [Theory]
    [InlineData(0, "A1-ed25519.private.b64", "brisbane")]
    [InlineData(1, "A1-rsa.private.pem", "test")]
    public void Rfc8463ExampleSignaturesAreReproduced(int index, string keyFile, string selector)
    {
        using DkimPrivateKey key = LoadKey("rfc8463", keyFile);
        byte[] signed = DkimTestData.Bytes("rfc8463", "A3-signed.eml");
        string vector = VectorSignature(signed, index);
        var options = new DkimSignerOptions
        {
            Domain = "football.example.com",
            Selector = selector,
            Key = key,
            Identity = "@football.example.com",
            SignedHeaders = ["from", "to", "subject", "date", "message-id"],
            OversignedHeaders = ["from", "subject", "date"],
            TimeProvider = new FixedTimeProvider(1528637909),
        };

        (string ours, string expected) = SignLikeVector(options, signed, vector);

        Assert.Equal(expected, ours);
    }

    [Fact]
    public void Rfc6376AppendixASignatureIsReproduced()
    {
        // A.2 (corrected form: see TestData/dkim/rfc6376/README.md): simple/simple, i=, Received signed, no t=.
        using DkimPrivateKey key = LoadKey("rfc6376", "appC-rsa.private.pem");
        string vector = VectorSignature(DkimTestData.Bytes("rfc6376", "A2-signed-corrected.eml"), 0);
        var options = new DkimSignerOptions
        {
            Domain = "example.com",
            Selector = "brisbane",
            Key = key,
            Identity = "joe@football.example.com",
            HeaderCanonicalization = DkimCanonicalization.Simple,
            BodyCanonicalization = DkimCanonicalization.Simple,
            SignedHeaders = ["Received", "From", "To", "Subject", "Date", "Message-ID"],
            OversignedHeaders = [],
            IncludeTimestamp = false,
        };
        byte[] unsigned = DkimTestData.Bytes("rfc6376", "A2-signed-corrected.eml");

        (string ours, string expected) = SignLikeVector(options, unsigned, vector);

        Assert.Equal(expected, ours);
    }

    [Theory]
    [InlineData("rfc6376", "appC-rsa.private.pem")]
    [InlineData("rfc8463", "A1-ed25519.private.b64")]
    public void DefaultFormatHasTheVectorBodyHashAndFoldsBelow79Columns(string dir, string keyFile)
    {
        using DkimPrivateKey key = LoadKey(dir, keyFile);
        var signer = new DkimSigner(GoOptions(key, "example.org"));
        DkimSignResult result = signer.SignMessage(DkimTestData.Bytes("sign-vectors", "unsigned.eml"));
        Assert.True(result.Success, result.Error);
        string field = result.Header!.Field;
        Assert.StartsWith("DKIM-Signature: v=1; a=" + key.Algorithm + "; c=simple/simple; d=example.org; s=brisbane;", field.Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.All(field.Split("\r\n"), line => Assert.True(line.Length <= 78, line));
        Assert.All(field.Split("\r\n").Skip(1), line => Assert.StartsWith(" ", line, StringComparison.Ordinal));
        Assert.True(DkimTagList.TryParse(result.Header.Value, out DkimTagList? tags, out _));
        Assert.Equal("2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=", tags!["bh"]);
        Assert.Equal("From:To:Subject:Date:Message-ID", string.Concat(tags["h"]!.Where(c => !char.IsWhiteSpace(c))));
        Assert.Equal("424242", tags["t"]);
        Assert.Null(tags["x"]);
    }
}
