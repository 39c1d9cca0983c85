using Milter.MailAuth.AuthenticationResults;

namespace Milter.MailAuth.Tests.AuthenticationResults;

public class ForgedHeaderFinderTests
{
    [Fact]
    public void FindsOurIdAnyCase_MalformedAndOffice365Forms_LastFirst()
    {
        (string, string)[] headers =
        [
            ("Received", " from a by b"),
            ("Authentication-Results", " mx.example.net; dkim=pass header.d=bank.example"),          // 1: ours
            ("Authentication-Results", " other.example.org; spf=pass smtp.mailfrom=x@y.example"),    // 2
            ("authentication-results", " (forged)\r\n\tMX.Example.NET;\r\n\tdmarc=pass"),              // 3: ours
            ("Subject", " mx.example.net; dkim=pass"),
            ("Authentication-Results", " mx.example.net; dkim=pass (unterminated comment"),          // 4: ours, MimeKit refuses
            ("Authentication-Results", " \"mx.example.net\"; none"),                                 // 5: ours, quoted
            ("Authentication-Results", " mx.example.net.evil.org; dkim=pass"),                       // 6
            ("Authentication-Results", " spf=pass smtp.mailfrom=a.example; mx.example.net; dkim=pass"), // 7: Office 365 form naming us
            ("Authentication-Results", " i=1; mx.example.net; arc=pass"),                           // 8: ours behind an instance tag
            ("Authentication-Results", ""),                                                          // 9
            ("ARC-Authentication-Results", " i=1; mx.example.net; dkim=pass"),
        ];

        Assert.Equal([8, 7, 5, 4, 3, 1], ForgedHeaderFinder.Find(headers, "mx.example.net"));
    }

    [Fact]
    public void NoneFound_IsEmpty()
    {
        (string, string)[] headers = [("From", " a@example.com"), ("Authentication-Results", " other.example; none")];
        Assert.Empty(ForgedHeaderFinder.Find(headers, "mx.example.net"));
    }

    [Theory]
    [InlineData(" mx.example.net (unterminated; dkim=pass")]
    [InlineData(" mx.example.net=; dkim=pass")]
    [InlineData(" (c) (nested (comment)) mx.example.net junk junk; x")]
    [InlineData("\r\n\tmx.example.net\r\n\t;dkim=pass header.i=@a b")]
    public void TolerantFallback_FindsOurId(string value)
    {
        Assert.True(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Equal("mx.example.net", id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" (only a comment)")]
    [InlineData(" dkim=pass header.d=example.com")]
    public void NoAuthservId(string value)
    {
        Assert.False(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Null(id);
    }
}
