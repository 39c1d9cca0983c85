using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

public class DkimKeyRecordNameTests
{
    [Theory]
    [InlineData("sel", "Example.COM", "sel._domainkey.example.com")]
    [InlineData("a.b", "sub.example.com", "a.b._domainkey.sub.example.com")]
    [InlineData("sel", "bücher.example", "sel._domainkey.xn--bcher-kva.example")]
    public void Key_record_names_are_lower_case_a_labels(string selector, string domain, string expected)
    {
        Assert.Equal(expected, DkimKeyRecordName.For(selector, domain));
    }

    [Fact]
    public void Names_too_long_for_dns_are_refused()
    {
        string label = new('a', 63);
        Assert.Null(DkimKeyRecordName.For(label + "." + label, label + "." + label + "." + label + ".com"));
    }

    [Theory]
    [InlineData("example.com", "example.com", true)]
    [InlineData("mail.EXAMPLE.com", "example.com", true)]
    [InlineData("badexample.com", "example.com", false)]
    [InlineData("example.com", "mail.example.com", false)]
    public void Subdomain_check(string candidate, string parent, bool expected)
    {
        Assert.Equal(expected, DkimKeyRecordName.IsSameOrSubdomain(candidate, parent));
    }
}
