using Milter.MailAuth.Dmarc;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>Several v=DMARC1 records at the author domain: RFC 9989 4.10 discards them all and the walk goes on to
/// the Organizational Domain; RFC 7489 6.6.3 step 5 ends discovery with no DMARC applied. The lookup names the
/// place so that `milter dmarc` can say which rule applied.</summary>
public sealed class SeveralDmarcRecordsTests
{
    private static DmarcZone Zone() => new DmarcZone()
        .Dmarc("news.example.com", "v=DMARC1; p=reject").Dmarc("news.example.com", "v=DMARC1; p=none; rua=mailto:a@example.com")
        .Dmarc("example.com", "v=DMARC1; p=quarantine; sp=none")
        .Host("news.example.com");

    private static Task<DmarcRecordLookup> DiscoverAsync(DmarcZone zone, DmarcMode mode) =>
        new DmarcEvaluator(zone, new DmarcOptions { Mode = mode }).DiscoverAsync("news.example.com", default);

    [Fact]
    public async Task Rfc9989_discards_them_and_takes_the_organizational_domain_record()
    {
        var lookup = await DiscoverAsync(Zone(), DmarcMode.Rfc9989);
        Assert.Equal((DmarcLookupStatus.Found, "example.com", DmarcRecordSource.OrganizationalDomain),
            (lookup.Status, lookup.RecordDomain, lookup.Source));
        Assert.Equal(["_dmarc.news.example.com"], lookup.SeveralRecordsAt);
    }

    [Fact]
    public async Task Rfc9989_evaluation_applies_sp_of_the_organizational_domain()
    {
        var result = await new DmarcEvaluator(Zone(), new DmarcOptions()).EvaluateAsync("news.example.com", [], null, default);
        Assert.Equal((DmarcResultCode.Fail, "example.com", "sp", DmarcPolicy.None),
            (result.Result, result.PolicyDomain, result.PolicyTag, result.Policy));
    }

    [Fact]
    public async Task Rfc9989_with_nothing_else_to_find_says_where_records_were_discarded()
    {
        var zone = new DmarcZone().Dmarc("news.example.com", "v=DMARC1; p=reject").Dmarc("news.example.com", "v=DMARC1; p=none");
        var lookup = await DiscoverAsync(zone, DmarcMode.Rfc9989);
        Assert.Equal(DmarcLookupStatus.None, lookup.Status);
        Assert.Equal(["_dmarc.news.example.com"], lookup.SeveralRecordsAt);
        Assert.EndsWith("several records discarded at news.example.com", lookup.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rfc7489_stops_at_the_author_domain()
    {
        var zone = Zone();
        var lookup = await DiscoverAsync(zone, DmarcMode.Rfc7489);
        Assert.Equal((DmarcLookupStatus.None, null), (lookup.Status, lookup.RecordDomain));
        Assert.Equal(["_dmarc.news.example.com"], lookup.SeveralRecordsAt);
        Assert.Equal(["_dmarc.news.example.com"], lookup.QueriedNames); // the Organizational Domain is not queried
        Assert.Equal("2 DMARC records at _dmarc.news.example.com: DMARC not applied (RFC 7489 6.6.3)", lookup.Reason);
    }

    [Fact]
    public async Task One_record_anywhere_names_no_place()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject").Dmarc("news.example.com", "v=spf1 -all");
        foreach (var mode in new[] { DmarcMode.Rfc9989, DmarcMode.Rfc7489 })
            Assert.Empty((await DiscoverAsync(zone, mode)).SeveralRecordsAt);
    }
}
