using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>RFC 9989 4.10 tree walk, Organizational Domain (4.10.2) and policy discovery (4.10.1) with an in-memory zone;
/// the worked examples A-G of reference/dmarc-arc.md 2.4.</summary>
public sealed class DmarcTreeWalkTests
{
    private static DmarcEvaluator Evaluator(DmarcZone zone) => new(zone, new DmarcOptions());

    [Theory]
    [InlineData("a.mail.example.com", "a.mail.example.com,mail.example.com,example.com,com")]
    [InlineData("com", "com")]
    [InlineData("a.b.c.d.e.f.g.h.i.j.mail.example.com",
        "a.b.c.d.e.f.g.h.i.j.mail.example.com,g.h.i.j.mail.example.com,h.i.j.mail.example.com,i.j.mail.example.com,j.mail.example.com,mail.example.com,example.com,com")]
    [InlineData("a.b.c.d.e.f.example.com", "a.b.c.d.e.f.example.com,b.c.d.e.f.example.com,c.d.e.f.example.com,d.e.f.example.com,e.f.example.com,f.example.com,example.com,com")]
    [InlineData("x.a.b.c.d.e.f.example.com", "x.a.b.c.d.e.f.example.com,b.c.d.e.f.example.com,c.d.e.f.example.com,d.e.f.example.com,e.f.example.com,f.example.com,example.com,com")]
    public void Query_targets_skip_names_of_eight_or_more_labels(string start, string expected)
    {
        var targets = DmarcTreeWalk.Targets(start);
        Assert.Equal(expected.Split(','), targets);
        Assert.InRange(targets.Count, 1, DmarcTreeWalk.MaxQueries);
    }

    [Fact]
    public async Task Example_A_org_domain_record_sp_for_existing_np_for_nonexistent()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject; sp=quarantine; np=reject").Host("a.mail.example.com");
        var lookup = await Evaluator(zone).DiscoverAsync("a.mail.example.com", default);
        Assert.Equal(DmarcLookupStatus.Found, lookup.Status);
        Assert.Equal("example.com", lookup.RecordDomain);
        Assert.Equal("example.com", lookup.OrganizationalDomain);
        Assert.Equal(DmarcRecordSource.OrganizationalDomain, lookup.Source);
        Assert.Equal(["_dmarc.a.mail.example.com", "_dmarc.mail.example.com", "_dmarc.example.com", "_dmarc.com"], lookup.QueriedNames);

        var exists = await Evaluator(zone).EvaluateAsync("a.mail.example.com", [], null, default);
        Assert.Equal((DmarcResultCode.Fail, "sp", DmarcPolicy.Quarantine, DmarcDisposition.Quarantine),
            (exists.Result, exists.PolicyTag, exists.Policy, exists.Disposition));
        var missing = await Evaluator(zone).EvaluateAsync("b.mail.example.com", [], null, default);
        Assert.Equal((DmarcResultCode.Fail, "np", DmarcPolicy.Reject, DmarcDisposition.Reject),
            (missing.Result, missing.PolicyTag, missing.Policy, missing.Disposition));
    }

    [Fact]
    public async Task Example_B_intermediate_record_is_not_the_policy()
    {
        // Literal RFC 9989 reading: the Org Domain is example.com (fewest labels), its record applies, not mail.example.com's.
        var zone = new DmarcZone().Dmarc("mail.example.com", "v=DMARC1; p=reject").Dmarc("example.com", "v=DMARC1; p=none").Host("a.mail.example.com");
        var result = await Evaluator(zone).EvaluateAsync("a.mail.example.com", [], null, default);
        Assert.Equal(DmarcResultCode.Fail, result.Result);
        Assert.Equal("example.com", result.PolicyDomain);
        Assert.Equal(DmarcPolicy.None, result.Policy);
        Assert.Equal(DmarcDisposition.None, result.Disposition);
    }

    [Fact]
    public async Task Example_C_psd_record_org_domain_is_one_label_below()
    {
        var zone = new DmarcZone()
            .Dmarc("giant.bank.example", "v=DMARC1; p=reject")
            .Dmarc("bank.example", "v=DMARC1; p=none; psd=y");
        var evaluator = Evaluator(zone);
        var lookup = await evaluator.DiscoverAsync("giant.bank.example", default);
        Assert.Equal(("giant.bank.example", "giant.bank.example", DmarcRecordSource.AuthorDomain),
            (lookup.RecordDomain, lookup.OrganizationalDomain, lookup.Source));
        Assert.Equal("giant.bank.example", await evaluator.GetOrganizationalDomainAsync("mail.giant.bank.example", default));
        Assert.Equal("mega.bank.example", await evaluator.GetOrganizationalDomainAsync("mail.mega.bank.example", default));

        var spf = await evaluator.EvaluateAsync("giant.bank.example", [new("mail.mega.bank.example", true)],
            new DmarcSpfInput("mail.giant.bank.example", SpfResultCode.Pass), default);
        Assert.Equal((DmarcResultCode.Pass, false, true, "p"), (spf.Result, spf.DkimAligned, spf.SpfAligned, spf.PolicyTag));
        var dkimOnly = await evaluator.EvaluateAsync("giant.bank.example", [new("mail.mega.bank.example", true)], null, default);
        Assert.Equal((DmarcResultCode.Fail, DmarcDisposition.Reject), (dkimOnly.Result, dkimOnly.Disposition));
    }

    [Fact]
    public async Task Example_D_psd_policy_np_for_nonexistent_author()
    {
        var zone = new DmarcZone().Dmarc("bank.example", "v=DMARC1; p=none; np=reject; psd=y");
        var result = await Evaluator(zone).EvaluateAsync("nosuch.bank.example", [], null, default);
        Assert.Equal(DmarcResultCode.Fail, result.Result);
        Assert.Equal("bank.example", result.PolicyDomain);
        Assert.Equal("nosuch.bank.example", result.OrganizationalDomain);
        Assert.Equal(("np", DmarcDisposition.Reject), (result.PolicyTag, result.Disposition));
        Assert.Contains("A nosuch.bank.example", zone.Log);
    }

    [Fact]
    public async Task Example_E_psd_n_stops_the_identifier_walk()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject").Dmarc("mail.example.com", "v=DMARC1; p=none; psd=n");
        var evaluator = Evaluator(zone);
        Assert.Equal("mail.example.com", await evaluator.GetOrganizationalDomainAsync("mail.example.com", default));
        Assert.Equal("mail.example.com", await evaluator.GetOrganizationalDomainAsync("a.mail.example.com", default));
        var result = await evaluator.EvaluateAsync("example.com", [new("mail.example.com", true)], null, default);
        Assert.Equal((DmarcResultCode.Fail, false), (result.Result, result.DkimAligned));
    }

    [Fact]
    public async Task Example_F_no_records_the_start_is_the_org_domain()
    {
        var zone = new DmarcZone();
        Assert.Equal("mailgun.org", await Evaluator(zone).GetOrganizationalDomainAsync("mailgun.org", default));
        Assert.Equal(["_dmarc.mailgun.org", "_dmarc.org"], zone.TxtQueries);
    }

    [Fact]
    public async Task Example_G_record_at_a_skipped_eight_label_name_is_never_found()
    {
        var zone = new DmarcZone().Dmarc("b.c.d.e.f.g.example.com", "v=DMARC1; p=reject");
        var result = await Evaluator(zone).EvaluateAsync("mail.a.b.c.d.e.f.g.example.com", [], null, default);
        Assert.Equal(DmarcResultCode.None, result.Result);
        Assert.Equal(8, zone.TxtQueries.Count());
        Assert.DoesNotContain("_dmarc.b.c.d.e.f.g.example.com", zone.TxtQueries);
    }

    [Fact]
    public async Task Record_at_the_author_needs_one_query_when_no_org_domain_is_needed()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject; adkim=s");
        var result = await Evaluator(zone).EvaluateAsync("example.com", [new("example.com", true), new("other.example.com", true)],
            new DmarcSpfInput("bounce.example.com", SpfResultCode.Fail), default);
        Assert.Equal(DmarcResultCode.Pass, result.Result);
        Assert.Equal(["_dmarc.example.com"], zone.TxtQueries);
        Assert.Equal(DmarcDisposition.None, result.Disposition);
    }

    [Fact]
    public async Task Several_records_at_a_name_are_discarded_and_the_walk_goes_on()
    {
        var zone = new DmarcZone()
            .Dmarc("sub.example.com", "v=DMARC1; p=reject").Dmarc("sub.example.com", "v=DMARC1; p=none")
            .Dmarc("example.com", "v=DMARC1; p=quarantine");
        var lookup = await Evaluator(zone).DiscoverAsync("sub.example.com", default);
        Assert.Equal(("example.com", DmarcPolicy.Quarantine), (lookup.RecordDomain, lookup.Record!.Policy));
    }

    [Fact]
    public async Task Other_txt_records_are_dropped_before_counting()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=spf1 -all").Dmarc("example.com", "v=DMARC1; p=reject");
        var lookup = await Evaluator(zone).DiscoverAsync("example.com", default);
        Assert.Equal(("example.com", DmarcRecordSource.AuthorDomain), (lookup.RecordDomain, lookup.Source));
    }

    [Fact]
    public async Task No_record_anywhere_gives_none()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=spf1 -all");
        var result = await Evaluator(zone).EvaluateAsync("example.com", [new("example.com", true)], null, default);
        Assert.Equal(DmarcResultCode.None, result.Result);
        Assert.Null(result.Policy);
        Assert.Null(result.ToAuthMethodResult().Comment);
    }

    [Fact]
    public async Task Unusable_record_at_the_author_stops_discovery()
    {
        // RFC 9989 4.10.1: no valid p and no valid rua -> no DMARC processing (the org record is not consulted).
        var zone = new DmarcZone().Dmarc("sub.example.com", "v=DMARC1; p=bogus").Dmarc("example.com", "v=DMARC1; p=reject");
        var result = await Evaluator(zone).EvaluateAsync("sub.example.com", [], null, default);
        Assert.Equal(DmarcResultCode.None, result.Result);
        Assert.Equal("sub.example.com", result.PolicyDomain);
        Assert.Contains("DMARC not applied", result.Reason);
    }

    [Theory]
    [InlineData(DnsStatus.ServerFailure)]
    [InlineData(DnsStatus.Timeout)]
    public async Task Transient_error_on_the_first_query_is_temperror(DnsStatus status)
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject").Fail("_dmarc.example.com", status);
        var result = await Evaluator(zone).EvaluateAsync("example.com", [new("example.com", true)], null, default);
        Assert.Equal(DmarcResultCode.TempError, result.Result);
        Assert.Contains("_dmarc.example.com", result.Reason);
        Assert.Equal(DmarcDisposition.None, result.Disposition);
    }

    [Fact]
    public async Task Transient_error_later_in_the_walk_is_temperror()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject").Fail("_dmarc.mail.example.com");
        var result = await Evaluator(zone).EvaluateAsync("a.mail.example.com", [], null, default);
        Assert.Equal(DmarcResultCode.TempError, result.Result);
        var lookup = await Evaluator(zone).DiscoverAsync("a.mail.example.com", default);
        Assert.Equal(DmarcLookupStatus.TempError, lookup.Status);
    }

    [Fact]
    public async Task Transient_error_in_an_identifier_walk_is_temperror_unless_another_identifier_passes()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject").Fail("_dmarc.mail.example.com");
        var evaluator = Evaluator(zone);
        var undetermined = await evaluator.EvaluateAsync("example.com", [new("mail.example.com", true)], null, default);
        Assert.Equal(DmarcResultCode.TempError, undetermined.Result);
        Assert.Contains("mail.example.com", undetermined.Reason);
        var passed = await evaluator.EvaluateAsync("example.com", [new("mail.example.com", true)],
            new DmarcSpfInput("example.com", SpfResultCode.Pass), default);
        Assert.Equal(DmarcResultCode.Pass, passed.Result);
    }

    [Fact]
    public async Task Transient_error_in_the_existence_check_is_temperror()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=none; np=reject").Fail("x.example.com");
        var result = await Evaluator(zone).EvaluateAsync("x.example.com", [], null, default);
        Assert.Equal(DmarcResultCode.TempError, result.Result);
        Assert.Contains("existence", result.Reason);
    }

    [Fact]
    public async Task Existence_is_checked_only_when_np_differs()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject");
        var result = await Evaluator(zone).EvaluateAsync("nosuch.example.com", [], null, default);
        Assert.Equal((DmarcResultCode.Fail, "p", DmarcDisposition.Reject), (result.Result, result.PolicyTag, result.Disposition));
        Assert.DoesNotContain(zone.Log, l => l.StartsWith("A ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Nodata_author_exists_so_sp_applies()
    {
        // deep.sub.example.com holds a record, so sub.example.com is an empty non-terminal: it exists (RFC 8020).
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=none; sp=quarantine; np=reject").Host("deep.sub.example.com");
        var result = await Evaluator(zone).EvaluateAsync("sub.example.com", [], null, default);
        Assert.Equal(("sp", DmarcDisposition.Quarantine), (result.PolicyTag, result.Disposition));
    }

    [Fact]
    public async Task Invalid_author_domain_is_permerror()
    {
        var result = await Evaluator(new DmarcZone()).EvaluateAsync("a..example.com", [], null, default);
        Assert.Equal(DmarcResultCode.PermError, result.Result);
        Assert.Equal(DmarcLookupStatus.PermError, (await Evaluator(new DmarcZone()).DiscoverAsync("bad name", default)).Status);
    }
}
