using System.Text;
using Milter.MailAuth.AuthenticationResults;
using MimeAuthenticationResults = MimeKit.Cryptography.AuthenticationResults;

namespace Milter.MailAuth.Tests.AuthenticationResults;

public class AuthenticationResultsWriterTests
{
    private const string Id = "mx.example.net";

    private static AuthResultProperty P(string type, string name, string value) => new(type, name, value);

    private static MimeAuthenticationResults ParseWithMimeKit(string value)
    {
        Assert.True(MimeAuthenticationResults.TryParse(Encoding.UTF8.GetBytes(value), out var parsed), $"MimeKit refused: {value}");
        return parsed!;
    }

    /// <summary>RFC 5322 comment text back to plain text: quoted-pairs undone.</summary>
    private static string Unescape(string s)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
                i++;
            sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static void AssertWellFormed(string value, int width)
    {
        Assert.StartsWith(" ", value, StringComparison.Ordinal);
        var lines = value.Split("\r\n");
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.DoesNotContain('\r', lines[i]);
            Assert.DoesNotContain('\n', lines[i]);
            Assert.False(lines[i].EndsWith(' ') || lines[i].EndsWith('\t'), $"trailing whitespace on line {i}: [{lines[i]}]");
            if (i > 0)
                Assert.StartsWith("\t", lines[i], StringComparison.Ordinal);
            int length = lines[i].Length + (i == 0 ? AuthenticationResultsWriter.HeaderName.Length + 1 : 0);
            Assert.True(length <= width, $"line {i} is {length} > {width}: [{lines[i]}]");
        }
    }

    [Fact]
    public void NoResults_IsNone()
    {
        Assert.Equal(" mx.example.net; none", AuthenticationResultsWriter.Format(Id, []));
        var parsed = ParseWithMimeKit(AuthenticationResultsWriter.Format(Id, []));
        Assert.Equal(Id, parsed.AuthenticationServiceIdentifier);
        Assert.Empty(parsed.Results);
    }

    [Fact]
    public void TypicalHeader_ExactText()
    {
        var value = AuthenticationResultsWriter.Format(Id,
        [
            new AuthMethodResult("dmarc", "pass", Properties: [P("header", "from", "example.com")]),
            new AuthMethodResult("dkim", "pass", Properties: [P("header", "d", "example.com"), P("header", "s", "s1"), AuthResultProperty.HeaderB("abc/EFGH+ijk")]),
            new AuthMethodResult("spf", "pass", Properties: [P("smtp", "mailfrom", "user@example.com")]),
        ]);
        Assert.Equal(
            " mx.example.net;\r\n" +
            "\tspf=pass smtp.mailfrom=user@example.com;\r\n" +
            "\tdkim=pass header.d=example.com header.s=s1 header.b=\"abc/EFGH\";\r\n" +
            "\tdmarc=pass header.from=example.com",
            value);
        AssertWellFormed(value, 78);
    }

    [Fact]
    public void Order_IsArcSpfDkimDmarcThenOthers_DkimInSignatureOrder()
    {
        var value = AuthenticationResultsWriter.Format(Id,
        [
            new AuthMethodResult("iprev", "pass"),
            new AuthMethodResult("dmarc", "fail"),
            new AuthMethodResult("DKIM", "pass", Properties: [P("header", "d", "first.example")]),
            new AuthMethodResult("auth", "pass"),
            new AuthMethodResult("dkim", "fail", Properties: [P("header", "d", "second.example")]),
            new AuthMethodResult("spf", "softfail"),
            new AuthMethodResult("arc", "none"),
            new AuthMethodResult("dkim", "neutral", Properties: [P("header", "d", "third.example")]),
        ]);
        var parsed = ParseWithMimeKit(value);
        Assert.Equal(["arc", "spf", "dkim", "dkim", "dkim", "dmarc", "iprev", "auth"], parsed.Results.Select(r => r.Method));
        Assert.Equal(["first.example", "second.example", "third.example"],
            parsed.Results.Where(r => r.Method == "dkim").Select(r => r.Properties.Single().Value));
    }

    public static TheoryData<string, bool> PropertyValues() => new()
    {
        { "example.com", false },
        { "@example.com", false },
        { "user@example.com", false },
        { "first.last+tag@sub.example.com", false },
        { "a!#$%&'*+-/=?^_`{|}~b@example.com", false },
        { "s2026", false },
        { "2j32dcmg", false },
        { "oF80QtY/", true },
        { "abc=", true },
        { "@localhost", true },
        { "a b@example.com", true },
        { "\"quoted\"@example.com", true },
        { "a..b@example.com", true },
        { ".a@example.com", true },
        { "a@b@example.com", true },
        { "user@-bad.example", true },
        { "back\\slash@example.com", true },
        { "semi;colon@example.com", true },
        { "paren(x)@example.com", true },
        { "", true },
        { "üser@exämple.com", true },
        { "user@[192.0.2.1]", true },
    };

    [Theory]
    [MemberData(nameof(PropertyValues))]
    public void PropertyValue_QuotedExactlyWhenGrammarRequires_AndRoundTrips(string pvalue, bool quoted)
    {
        var value = AuthenticationResultsWriter.Format(Id, [new AuthMethodResult("dkim", "pass", Properties: [P("header", "i", pvalue)])]);
        Assert.Equal(quoted, value.Contains("header.i=\"", StringComparison.Ordinal));
        if (!quoted)
            Assert.EndsWith("header.i=" + pvalue, value, StringComparison.Ordinal);

        var p = ParseWithMimeKit(value).Results.Single().Properties.Single();
        Assert.Equal(("header", "i", pvalue), (p.PropertyType, p.Property, p.Value));
    }

    public static TheoryData<string> Reasons() => new()
    {
        "bad",
        "signature did not verify",
        "she said \"no\"",
        "back\\slash and \\\" both",
        "semi; colon (paren) = equals",
        "",
        "trailing space ",
    };

    [Theory]
    [MemberData(nameof(Reasons))]
    public void Reason_IsQuotedString_AndRoundTrips(string reason)
    {
        var value = AuthenticationResultsWriter.Format(Id, [new AuthMethodResult("spf", "fail", Reason: reason, Properties: [P("smtp", "mailfrom", "a@example.com")])]);
        Assert.Contains(" reason=\"", value, StringComparison.Ordinal);
        var r = ParseWithMimeKit(value).Results.Single();
        Assert.Equal(reason, r.Reason);
        Assert.Equal("a@example.com", r.Properties.Single().Value);
    }

    public static TheoryData<string> Comments() => new()
    {
        "1024-bit rsa key sha256",
        "nested (parens) here",
        "unbalanced ( paren",
        "unbalanced ) paren",
        "back\\slash",
        "quote \" inside",
        "aol.com: the domain fastmail.com reports 66.111.4.222 as a permitted sender.",
    };

    [Theory]
    [MemberData(nameof(Comments))]
    public void Comment_IsEscaped_AndRoundTrips(string comment)
    {
        var value = AuthenticationResultsWriter.Format(Id, [new AuthMethodResult("dkim", "pass", Comment: comment, Properties: [P("header", "d", "example.com")])]);
        var r = ParseWithMimeKit(value).Results.Single();
        Assert.Equal(comment, Unescape(r.ResultComment!));
        Assert.Equal("example.com", r.Properties.Single().Value);
    }

    [Fact]
    public void ControlCharacters_CannotInjectLines()
    {
        var value = AuthenticationResultsWriter.Format(Id,
        [
            new AuthMethodResult("spf", "fail", Reason: "x\r\nBcc: evil@example.org", Comment: "y\nX-Evil: 1",
                Properties: [P("smtp", "mailfrom", "a\r\nb@example.com")]),
        ]);
        Assert.DoesNotContain("\n", value.Replace("\r\n\t", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("\r", value.Replace("\r\n\t", "", StringComparison.Ordinal), StringComparison.Ordinal);
        var r = ParseWithMimeKit(value).Results.Single();
        Assert.Equal("x  Bcc: evil@example.org", r.Reason);
        Assert.Equal("a  b@example.com", r.Properties.Single().Value);
    }

    [Theory]
    [InlineData(78)]
    [InlineData(72)]
    [InlineData(120)]
    public void LongHeaders_FoldBetweenElements_WithinWidth_AndRoundTrip(int width)
    {
        // Every element is shorter than the width; an element longer than a line is tested on its own.
        var results = new List<AuthMethodResult>
        {
            new("arc", "none", Comment: "no signatures found"),
            new("spf", "pass", Comment: "domain of bounce@lists.example.org designates 192.0.2.1",
                Properties: [P("smtp", "mailfrom", "bounce+list=example.org@lists.example.org"), P("smtp", "helo", "mail.lists.example.org")]),
        };
        for (int i = 0; i < 5; i++)
        {
            results.Add(new AuthMethodResult("dkim", i % 2 == 0 ? "pass" : "fail", Reason: i % 2 == 0 ? null : "signature did not verify",
                Comment: "2048-bit rsa key sha256",
                Properties: [P("header", "d", $"d{i}.example.com"), P("header", "i", $"@d{i}.example.com"), P("header", "s", "selector2026"), P("header", "a", "rsa-sha256"), P("header", "b", "AbCd/+12")]));
        }
        results.Add(new AuthMethodResult("dmarc", "pass", Comment: "p=reject sp=reject dis=none", Properties: [P("header", "from", "d0.example.com")]));

        var value = AuthenticationResultsWriter.Format(Id, results, width);
        AssertWellFormed(value, width);

        var parsed = ParseWithMimeKit(value);
        Assert.Equal(Id, parsed.AuthenticationServiceIdentifier);
        Assert.Equal(results.Count, parsed.Results.Count);
        for (int i = 0; i < results.Count; i++)
        {
            var expected = results[i];
            var actual = parsed.Results[i];
            Assert.Equal(expected.Method, actual.Method);
            Assert.Equal(expected.Result, actual.Result);
            Assert.Equal(expected.Reason, actual.Reason);
            Assert.Equal(expected.Comment, actual.ResultComment is null ? null : Unescape(actual.ResultComment));
            Assert.Equal(expected.Properties?.Select(p => (p.Type, p.Name, p.Value)) ?? [],
                actual.Properties.Select(p => (p.PropertyType, p.Property, p.Value)));
        }
    }

    [Fact]
    public void AnElementLongerThanALine_StaysWhole_OnItsOwnLine()
    {
        string local = new('a', 64);
        string domain = string.Join('.', Enumerable.Repeat(new string('b', 40), 5));
        var value = AuthenticationResultsWriter.Format(Id, [new AuthMethodResult("spf", "pass", Properties: [P("smtp", "mailfrom", $"{local}@{domain}")])]);
        Assert.Contains($"\r\n\tsmtp.mailfrom={local}@{domain}", value, StringComparison.Ordinal);
        Assert.DoesNotContain(" \r\n", value, StringComparison.Ordinal);
        Assert.Equal($"{local}@{domain}", ParseWithMimeKit(value).Results.Single().Properties.Single().Value);
    }

    [Fact]
    public void MethodVersion_IsWritten()
    {
        var value = AuthenticationResultsWriter.Format(Id, [new AuthMethodResult("dkim", "pass", MethodVersion: 1)]);
        Assert.EndsWith("dkim/1=pass", value, StringComparison.Ordinal);
        Assert.Equal(1, ParseWithMimeKit(value).Results.Single().Version);
    }

    [Theory]
    [InlineData("")]
    [InlineData("mx example.net")]
    [InlineData("mx.example.net;")]
    [InlineData("postmaster@example.net")]
    [InlineData("mx.exämple.net")]
    [InlineData("\"mx.example.net\"")]
    [InlineData("mx\r\n.example.net")]
    public void InvalidAuthservId_Throws(string id)
    {
        var e = Assert.Throws<ArgumentException>(() => AuthenticationResultsWriter.Format(id, []));
        Assert.Contains("authserv-id", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AuthservId_IsAtMost255Characters_OneRuleForTheWriterAndTheConfig()
    {
        Assert.True(AuthenticationResultsWriter.IsValidAuthservId(new string('a', 255)));
        Assert.False(AuthenticationResultsWriter.IsValidAuthservId(new string('a', 256)));
        Assert.False(AuthenticationResultsWriter.IsValidAuthservId(null));
        Assert.False(AuthenticationResultsWriter.IsValidAuthservId("mx@example.net"));
        Assert.Throws<ArgumentException>(() => AuthenticationResultsWriter.Format(new string('a', 256), []));
    }

    [Theory]
    [InlineData("dk im", "pass")]
    [InlineData("dkim", "")]
    [InlineData("dkim", "pass;")]
    [InlineData("-dkim", "pass")]
    public void InvalidKeyword_Throws(string method, string result)
    {
        Assert.Throws<ArgumentException>(() => AuthenticationResultsWriter.Format(Id, [new AuthMethodResult(method, result)]));
    }

    [Fact]
    public void InvalidPropertyName_Throws()
    {
        Assert.Throws<ArgumentException>(() => AuthenticationResultsWriter.Format(Id, [new AuthMethodResult("dkim", "pass", Properties: [P("header", "d.x", "a")])]));
    }

    [Fact]
    public void Bounds_TooManyResultsThrow_LongTextIsCut_LongValueIsLeftOut()
    {
        var many = Enumerable.Range(0, AuthenticationResultsWriter.MaxResults + 1).Select(_ => new AuthMethodResult("dkim", "pass"));
        Assert.Throws<ArgumentException>(() => AuthenticationResultsWriter.Format(Id, many));

        string longText = new('x', 5000);
        string longValue = new string('y', 400) + "@example.com";
        var value = AuthenticationResultsWriter.Format(Id,
            [new AuthMethodResult("spf", "fail", Reason: longText, Comment: longText, Properties: [P("smtp", "mailfrom", longValue), P("smtp", "helo", "ok.example")])]);
        var r = ParseWithMimeKit(value).Results.Single();
        Assert.Equal(AuthenticationResultsWriter.MaxTextLength, r.Reason!.Length);
        Assert.Equal(AuthenticationResultsWriter.MaxTextLength, r.ResultComment!.Length);
        Assert.Equal(("smtp", "helo", "ok.example"), r.Properties.Select(p => (p.PropertyType, p.Property, p.Value)).Single());
        Assert.True(value.Length < 1000);
    }

    [Fact]
    public void HeaderB_TakesFirstEightCharactersWithoutWhitespace()
    {
        Assert.Equal(new AuthResultProperty("header", "b", "dGVzdC/+"), AuthResultProperty.HeaderB(" dGVz\r\n\tdC/+MTIz NDU2"));
        Assert.Equal("abc", AuthResultProperty.HeaderB("abc").Value);
    }

    [Fact]
    public void WidthOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AuthenticationResultsWriter.Format(Id, [], 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => AuthenticationResultsWriter.Format(Id, [], 2000));
    }
}
