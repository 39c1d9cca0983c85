using Milter.MailAuth.Dmarc;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>Every PSL vector in RFC 9989 mode with an in-memory zone holding psd=y records at the implied public
/// suffixes (the same cases run through Knot in <see cref="DmarcKnotTests"/>).</summary>
public sealed class PslTreeWalkTests
{
    public static TheoryData<PslCase> Cases => PslVectors.All();

    private static readonly Lazy<DmarcZone> Zone = new(() =>
    {
        var zone = new DmarcZone();
        foreach (var name in PslVectors.PsdNames(PslVectors.Load("tests.txt").Concat(PslVectors.Load("test_psl.txt"))))
            zone.Dmarc(name, DmarcKnotFixture.PsdRecord);
        return zone;
    });

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Org_domain_by_tree_walk_matches_psl_vector(PslCase c)
    {
        var evaluator = new DmarcEvaluator(Zone.Value, new DmarcOptions());
        if (c.Input is null || c.Input.StartsWith('.'))
        {
            Assert.Null(c.Expected); // not a domain name: the walk has nothing to say
            if (c.Input is null)
                Assert.Null(await evaluator.GetOrganizationalDomainAsync(null!, default));
            return;
        }
        Assert.Equal(c.ExpectedALabels ?? DmarcDomain.Normalize(c.Input), await evaluator.GetOrganizationalDomainAsync(c.Input, default));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Org_domain_in_rfc7489_mode_matches_psl_vector(PslCase c)
    {
        var org = PublicSuffixList.Default.GetOrganizationalDomain(c.Input);
        if (c.Input is null || c.Input.StartsWith('.'))
            Assert.Null(org);
        else
            Assert.Equal(c.ExpectedALabels ?? DmarcDomain.Normalize(c.Input), org);
    }
}
