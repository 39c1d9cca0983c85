using Milter.MailAuth.Dmarc;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>The publicsuffix.org checkPublicSuffix vectors against the list shipped in Milter, plus format rules.</summary>
public sealed class PublicSuffixListTests
{
    public static TheoryData<PslCase> Cases => PslVectors.All();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Registrable_domain_matches_the_vector(PslCase c)
    {
        Assert.Equal(c.ExpectedALabels, PublicSuffixList.Default.GetRegistrableDomain(c.Input));
    }

    [Fact]
    public void Both_vector_files_are_read_in_full()
    {
        Assert.Equal(78, PslVectors.Load("tests.txt").Count);
        Assert.Equal(78, PslVectors.Load("test_psl.txt").Count);
        Assert.Equal(26, PslVectors.Load("tests.txt").Count(c => c.Expected is null));
    }

    [Fact]
    public void Embedded_list_is_the_full_list()
    {
        Assert.InRange(PublicSuffixList.Default.RuleCount, 9000, 20000);
        Assert.Same(PublicSuffixList.Default, PublicSuffixList.Default);
    }

    [Fact]
    public void Private_section_can_be_left_out()
    {
        string path = Path.GetTempFileName();
        try
        {
        File.WriteAllText(path, """
            // ===BEGIN ICANN DOMAINS===
            com
            // ===END ICANN DOMAINS===
            // ===BEGIN PRIVATE DOMAINS===
            github.io
            // ===END PRIVATE DOMAINS===
            """);
        Assert.Equal("user.github.io", PublicSuffixList.Load(path).GetRegistrableDomain("a.user.github.io"));
        Assert.Equal("github.io", PublicSuffixList.Load(path, includePrivateDomains: false).GetRegistrableDomain("a.user.github.io"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("*.ck\n!www.ck\n", "a.b.ck", "a.b.ck", "b.ck")]
    [InlineData("*.ck\n!www.ck\n", "x.www.ck", "www.ck", "ck")]
    [InlineData("*.ck\n!www.ck\n", "ck", null, "ck")]
    [InlineData("jp\nkobe.jp\n*.kobe.jp\n!city.kobe.jp\n", "www.city.kobe.jp", "city.kobe.jp", "kobe.jp")]
    [InlineData("公司.cn\ncn\n", "www.食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn", "xn--55qx5d.cn")]
    [InlineData("com  trailing text is ignored\n", "A.Example.COM", "example.com", "com")]
    [InlineData("com\n", "example.org", "example.org", "org")]
    public void Rules_wildcards_exceptions_and_idn(string list, string domain, string? registrable, string suffix)
    {
        var psl = PublicSuffixList.Parse(new StringReader(list));
        Assert.Equal(registrable, psl.GetRegistrableDomain(domain));
        Assert.Equal(suffix, psl.GetPublicSuffix(domain));
        Assert.Equal(registrable ?? suffix, psl.GetOrganizationalDomain(domain));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".com")]
    [InlineData("a..com")]
    [InlineData("bad name.com")]
    public void Invalid_names_have_no_registrable_domain(string domain)
    {
        Assert.Null(PublicSuffixList.Default.GetRegistrableDomain(domain));
    }

    [Fact]
    public void A_list_without_rules_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => PublicSuffixList.Parse(new StringReader("// only a comment\n\n")));
    }
}
