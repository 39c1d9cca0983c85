using Milter.MailAuth.AuthenticationResults;

namespace Milter.MailAuth.Tests.AuthenticationResults;

/// <summary>
/// Values whose authserv-id some reader (RFC 8601 grammar, MimeKit, a mail client or filter with a simpler
/// comment or whitespace rule) takes for ours: every one must be found as forged. Values naming another
/// authserv-id must not be.
/// </summary>
public class AuthservIdNearMissTests
{
    private const string Ours = "mx.example.net";

    [Theory]
    // A fully qualified name with its root dot is the same host (RFC 1034 3.1).
    [InlineData(" mx.example.net.; dkim=pass header.d=bank.example")]
    [InlineData(" MX.Example.Net.; dmarc=pass")]
    [InlineData(" \"mx.example.net.\"; dkim=pass")]
    [InlineData(" \" mx.example.net \"; dkim=pass")]
    [InlineData(" mx.example.net. 1; dkim=pass")]
    // CFWS before the id (RFC 8601 2.2 allows it: authserv-id is a "value", with CFWS around it in RFC 5322).
    [InlineData(" (c1) (c2 (nested)) mx.example.net; dkim=pass")]
    [InlineData("\r\n\t(folded\r\n\tcomment)\r\n\tmx.example.net;\r\n\tdkim=pass")]
    [InlineData(" (quoted \\) pair) mx.example.net; dkim=pass")]
    [InlineData(" (a)(b)mx.example.net;dkim=pass")]
    [InlineData(" mx.example.net (trailing comment); dkim=pass")]
    [InlineData(" mx.example.net\t; dkim=pass")]
    // Whitespace that only some readers skip: vertical tab, form feed, no-break space (0xA0 read as Latin-1).
    [InlineData(" \vmx.example.net; dkim=pass")]
    [InlineData(" \fmx.example.net; dkim=pass")]
    [InlineData(" \u00a0mx.example.net; dkim=pass")]
    // Unterminated comments by RFC 5322, read as closed by a reader without nesting or quoted-pairs.
    [InlineData(" ((a) mx.example.net; dkim=pass")]
    [InlineData(" (a \\) mx.example.net; dkim=pass")]
    // A comment never closed: a line-oriented reader ends it at the fold, another reads past the "(".
    [InlineData(" (unterminated\r\n\tmx.example.net; dkim=pass")]
    [InlineData(" (mx.example.net; dkim=pass")]
    [InlineData(" ( mx.example.net; dkim=pass header.d=bank.example")]
    public void Near_miss_of_our_id_is_found(string value)
    {
        Assert.True(AuthenticationResultsParser.ClaimsAuthservId(value, Ours), value);
        Assert.Equal([1], ForgedHeaderFinder.Find([("Authentication-Results", value)], Ours));
    }

    [Fact]
    public void Our_id_configured_with_a_root_dot_matches_without_it()
    {
        Assert.True(AuthenticationResultsParser.ClaimsAuthservId(" mx.example.net; dkim=pass", "mx.example.net."));
    }

    [Theory]
    [InlineData(" other.example.org; dkim=pass")]
    [InlineData(" other.example.org (relayed for mx.example.net); spf=pass")]
    [InlineData(" (mx.example.net) other.example.org; spf=pass")]
    [InlineData(" other.example.org (mx.example.net; spf=pass")]
    [InlineData(" mx.example.net.other.example; dkim=pass")]
    [InlineData(" amx.example.net; dkim=pass")]
    [InlineData(" mx.example.network; dkim=pass")]
    [InlineData(" \"mx.example.net x\"; dkim=pass")]
    [InlineData(" dkim=pass header.d=mx.example.net")]
    [InlineData(" (only a comment mx.example.net)")]
    public void Other_ids_are_kept(string value)
    {
        Assert.False(AuthenticationResultsParser.ClaimsAuthservId(value, Ours), value);
        Assert.Empty(ForgedHeaderFinder.Find([("Authentication-Results", value)], Ours));
    }

    /// <summary>Many unclosed "(" before the id: each reading is linear in the value (the skipping reading once
    /// rescanned the rest of the value for every "(", quadratic: a 300 KB field held a core for minutes; so did the
    /// one that ends them at the line break, with a fold after each).
    /// A field that long fits in one milter frame; the id behind it is still found.</summary>
    [Theory]
    [InlineData("(", 300_000)]
    [InlineData("(\r\n ", 200_000)]
    public async Task Unclosed_parentheses_by_the_hundred_thousand_are_read_in_linear_time(string unit, int count)
    {
        var value = " " + string.Concat(Enumerable.Repeat(unit, count)) + " mx.example.net; dkim=pass";
        var check = Task.Run(() => AuthenticationResultsParser.ClaimsAuthservId(value, Ours));
        var finished = await Task.WhenAny(check, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(finished == check, $"reading a field of {count} unclosed comments took more than 30 s");
        Assert.True(await check);
    }
}
