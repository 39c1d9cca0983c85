using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Message;

namespace Milter.MailAuth.Tests.Message;

/// <summary>The RFC5322.From domain must be a valid domain name (issue 13 defect 3): anything DNS would refuse makes
/// the From invalid (RejectInvalidFrom, DMARC permerror) instead of a DNS temperror later.</summary>
public class AuthorDomainTests
{
    private static AuthorDomain Parse(string from) => AuthorDomain.FromValue(Encoding.UTF8.GetBytes(" " + from));

    [Theory]
    [InlineData("boss@xn--zz.example.org")]
    [InlineData("boss@XN--ZZ.example.org")]
    [InlineData("boss@xn--.example.org")]
    [InlineData("boss@xn--abc-.example.org")] // decodes to all-ASCII "abc": not an A-label
    [InlineData("boss@sub.xn--zz.example.org")]
    public void A_from_domain_with_an_invalid_a_label_is_unparseable(string from)
    {
        var author = Parse(from);
        Assert.Equal(AuthorStatus.Unparseable, author.Status);
        Assert.Contains("not a valid domain name", author.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_over_63_octets_and_names_over_253_are_unparseable()
    {
        Assert.Equal(AuthorStatus.Unparseable, Parse($"a@{new string('a', 64)}.example").Status);
        var label = new string('a', 63);
        Assert.Equal(AuthorStatus.Unparseable, Parse($"a@{label}.{label}.{label}.{label}.example").Status); // 261 octets
        Assert.Equal(AuthorStatus.Ok, Parse($"a@{new string('a', 63)}.example").Status);
    }

    [Theory]
    [InlineData("boss@xn--bcher-kva.example", "xn--bcher-kva.example")]
    [InlineData("boss@XN--BCHER-KVA.Example", "xn--bcher-kva.example")]
    [InlineData("boss@bücher.example", "xn--bcher-kva.example")]
    [InlineData("boss@BÜCHER.example", "xn--bcher-kva.example")]
    [InlineData("boss@mail.example.org", "mail.example.org")]
    public void Valid_domains_come_out_as_lower_case_a_labels(string from, string domain)
    {
        var author = Parse(from);
        Assert.Equal(AuthorStatus.Ok, author.Status);
        Assert.Equal(domain, author.Domain);
    }

    [Theory]
    [InlineData("xn--zz.example.org")]
    [InlineData("a..example.org")]
    public void Dmarc_and_dkim_refuse_the_same_names(string domain)
    {
        Assert.Null(DmarcDomain.Normalize(domain));
        Assert.False(DkimKeyRecordName.IsValidDomain(domain));
        Assert.Null(DkimKeyRecordName.For("sel", domain));
    }
}
