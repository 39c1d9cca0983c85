using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;
using Milter.TestKit.Dns;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>Policy discovery and the tree walk through a real authoritative server (Knot on loopback) and
/// <see cref="DnsClientResolver"/>: real NXDOMAIN versus NODATA, multi-string TXT, timeouts.</summary>
public sealed class DmarcKnotTests(DmarcKnotFixture fixture) : IClassFixture<DmarcKnotFixture>
{
    public static TheoryData<PslCase> PslCases => PslVectors.All();

    private DmarcEvaluator Evaluator() => new(fixture.Resolver(), new DmarcOptions());

    /// <summary>The RFC 9989 Organizational Domain through psd=y records equals the PSL registrable domain (or the
    /// name itself when it is a public suffix). Null and leading-dot inputs are not domain names for a walk.</summary>
    [Theory]
    [MemberData(nameof(PslCases))]
    public async Task Tree_walk_org_domain_matches_psl_vector(PslCase c)
    {
        if (c.Input is null || c.Input.StartsWith('.'))
        {
            Assert.Null(c.Expected);
            return;
        }
        string expected = c.ExpectedALabels ?? DmarcDomain.Normalize(c.Input)!;
        Assert.Equal(expected, await Evaluator().GetOrganizationalDomainAsync(c.Input, default));
    }

    [Fact]
    public async Task Example_A_sp_for_an_existing_name_np_for_nxdomain()
    {
        var exists = await Evaluator().EvaluateAsync("a.mail.example.test", [], null, default);
        Assert.Equal(("example.test", "example.test", "sp", DmarcDisposition.Quarantine),
            (exists.PolicyDomain, exists.OrganizationalDomain, exists.PolicyTag, exists.Disposition));
        // mail.example.test is an empty non-terminal (NODATA): it exists.
        var nodata = await Evaluator().EvaluateAsync("mail.example.test", [], null, default);
        Assert.Equal("sp", nodata.PolicyTag);
        var nx = await Evaluator().EvaluateAsync("nosuch.example.test", [], null, default);
        Assert.Equal(("np", DmarcDisposition.Reject), (nx.PolicyTag, nx.Disposition));
    }

    [Fact]
    public async Task Example_C_and_D_psd_record()
    {
        var c = await Evaluator().EvaluateAsync("giant.bank.test", [new DmarcDkimInput("mail.mega.bank.test", true)],
            new DmarcSpfInput("mail.giant.bank.test", SpfResultCode.Pass), default);
        Assert.Equal((DmarcResultCode.Pass, false, true), (c.Result, c.DkimAligned, c.SpfAligned));
        var d = await Evaluator().EvaluateAsync("nosuch.bank.test", [], null, default);
        Assert.Equal(("bank.test", "np", DmarcDisposition.Reject), (d.PolicyDomain, d.PolicyTag, d.Disposition));
    }

    [Fact]
    public async Task Example_E_psd_n()
    {
        Assert.Equal("mail.psdn.test", await Evaluator().GetOrganizationalDomainAsync("x.mail.psdn.test", default));
        var e = await Evaluator().EvaluateAsync("psdn.test", [new DmarcDkimInput("mail.psdn.test", true)], null, default);
        Assert.Equal(DmarcResultCode.Fail, e.Result);
    }

    [Fact]
    public async Task Multiple_records_discarded_and_stray_txt_ignored()
    {
        var lookup = await Evaluator().DiscoverAsync("dup.multi.test", default);
        Assert.Equal((DmarcLookupStatus.Found, "multi.test", DmarcPolicy.Quarantine), (lookup.Status, lookup.RecordDomain, lookup.Record!.Policy));
        var old = await new DmarcEvaluator(fixture.Resolver(), new DmarcOptions { Mode = DmarcMode.Rfc7489 }).DiscoverAsync("dup.multi.test", default);
        Assert.Equal(DmarcLookupStatus.None, old.Status);
    }

    [Fact]
    public async Task Multi_string_record_is_joined()
    {
        var lookup = await Evaluator().DiscoverAsync("split.test", default);
        Assert.Equal((DmarcPolicy.Reject, DmarcAlignmentMode.Strict), (lookup.Record!.Policy, lookup.Record.DkimAlignment));
    }

    [Fact]
    public async Task Example_G_skipped_name()
    {
        var result = await Evaluator().EvaluateAsync("mail.a.b.c.d.e.f.g.deep.test", [], null, default);
        Assert.Equal(DmarcResultCode.None, result.Result);
        var lookup = await Evaluator().DiscoverAsync("mail.a.b.c.d.e.f.g.deep.test", default);
        Assert.Equal(8, lookup.QueriedNames.Count);
    }

    [Fact]
    public async Task Timeout_on_a_walk_step_is_temperror()
    {
        await using var proxy = await BlackholeDnsServer.StartAsync(fixture.Knot.EndPoint, ["_dmarc.mail.example.test"]);
        var resolver = new DnsClientResolver(new DnsResolverOptions
        {
            Servers = [$"127.0.0.1:{proxy.Port}"],
            Timeout = TimeSpan.FromMilliseconds(300),
            Retries = 0,
        });
        var result = await new DmarcEvaluator(resolver, new DmarcOptions()).EvaluateAsync("a.mail.example.test", [], null, default);
        Assert.Equal(DmarcResultCode.TempError, result.Result);
        Assert.Contains("_dmarc.mail.example.test", result.Reason);
        Assert.True(proxy.QueriesSwallowed > 0);
    }
}
