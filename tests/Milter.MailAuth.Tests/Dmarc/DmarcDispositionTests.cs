using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>Policy selection, t=y, pct (RFC 7489 mode, with a fixed draw), RFC 7489 discovery and the A-R clause.</summary>
public sealed class DmarcDispositionTests
{
    /// <summary>A draw that always returns the same value.</summary>
    private sealed class FixedRandom(int value) : Random
    {
        public int Calls { get; private set; }
        public override int Next(int maxValue)
        {
            Calls++;
            return value;
        }
    }

    private static Task<DmarcResult> Evaluate(DmarcZone zone, string author, DmarcMode mode = DmarcMode.Rfc9989, Random? random = null,
        params DmarcDkimInput[] dkim) =>
        new DmarcEvaluator(zone, new DmarcOptions { Mode = mode }, random: random).EvaluateAsync(author, dkim, null, default);

    [Theory]
    [InlineData("v=DMARC1; p=reject; t=y", DmarcDisposition.Quarantine)]
    [InlineData("v=DMARC1; p=quarantine; t=y", DmarcDisposition.None)]
    [InlineData("v=DMARC1; p=none; t=y", DmarcDisposition.None)]
    [InlineData("v=DMARC1; p=reject; t=n", DmarcDisposition.Reject)]
    [InlineData("v=DMARC1; p=quarantine", DmarcDisposition.Quarantine)]
    public async Task Testing_lowers_one_level(string record, DmarcDisposition disposition)
    {
        var result = await Evaluate(new DmarcZone().Dmarc("example.com", record), "example.com");
        Assert.Equal(DmarcResultCode.Fail, result.Result);
        Assert.Equal(disposition, result.Disposition);
        Assert.Equal(record.Contains("t=y"), result.Testing);
    }

    [Fact]
    public async Task Testing_lowers_the_selected_subdomain_policy()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=none; sp=reject; t=y").Host("a.example.com");
        var result = await Evaluate(zone, "a.example.com");
        Assert.Equal(("sp", DmarcPolicy.Reject, DmarcDisposition.Quarantine), (result.PolicyTag, result.Policy, result.Disposition));
        Assert.Equal("quarantine", result.PolicyKeyword);
    }

    [Fact]
    public async Task Pass_has_no_disposition()
    {
        var result = await Evaluate(new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject"), "example.com", dkim: new DmarcDkimInput("example.com", true));
        Assert.Equal((DmarcResultCode.Pass, DmarcDisposition.None, "reject"), (result.Result, result.Disposition, result.PolicyKeyword));
        Assert.True(result.DkimAligned);
        Assert.Equal("example.com", result.AlignedDkimDomain);
    }

    [Fact]
    public async Task A_failed_signature_does_not_align()
    {
        var result = await Evaluate(new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject"), "example.com", dkim: new DmarcDkimInput("example.com", false));
        Assert.Equal(DmarcResultCode.Fail, result.Result);
        Assert.Contains("did not pass", result.Reason);
    }

    [Theory]
    [InlineData(SpfResultCode.Pass, DmarcResultCode.Pass)]
    [InlineData(SpfResultCode.SoftFail, DmarcResultCode.Fail)]
    [InlineData(SpfResultCode.Neutral, DmarcResultCode.Fail)]
    [InlineData(SpfResultCode.TempError, DmarcResultCode.Fail)]
    public async Task Only_an_spf_pass_can_align(SpfResultCode spf, DmarcResultCode expected)
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject");
        var result = await new DmarcEvaluator(zone, new DmarcOptions()).EvaluateAsync("example.com", [], new DmarcSpfInput("bounces.example.com", spf), default);
        Assert.Equal(expected, result.Result);
        Assert.Equal(expected == DmarcResultCode.Pass, result.SpfAligned);
    }

    [Theory]
    [InlineData("r", "bounces.example.com", true)]
    [InlineData("s", "bounces.example.com", false)]
    [InlineData("s", "EXAMPLE.COM.", true)]
    [InlineData("r", "example.net", false)]
    [InlineData("r", "notexample.com", false)]
    public async Task Spf_alignment_modes(string aspf, string mailFromDomain, bool aligned)
    {
        var zone = new DmarcZone().Dmarc("example.com", $"v=DMARC1; p=reject; aspf={aspf}");
        var result = await new DmarcEvaluator(zone, new DmarcOptions()).EvaluateAsync("example.com", [], new DmarcSpfInput(mailFromDomain, SpfResultCode.Pass), default);
        Assert.Equal(aligned, result.SpfAligned);
    }

    [Theory]
    [InlineData(50, 49, DmarcDisposition.Reject, false)]
    [InlineData(50, 50, DmarcDisposition.Quarantine, true)]
    [InlineData(0, 0, DmarcDisposition.Quarantine, true)]
    [InlineData(100, 99, DmarcDisposition.Reject, false)]
    public async Task Pct_sampling_in_rfc7489_mode(int pct, int draw, DmarcDisposition disposition, bool sampledOut)
    {
        var zone = new DmarcZone().Dmarc("example.com", $"v=DMARC1; p=reject; pct={pct}");
        var random = new FixedRandom(draw);
        var result = await Evaluate(zone, "example.com", DmarcMode.Rfc7489, random);
        Assert.Equal((disposition, sampledOut), (result.Disposition, result.SampledOut));
        Assert.Equal(pct < 100 ? 1 : 0, random.Calls);
        Assert.Equal("psl", result.DiscoveryMethod);
    }

    [Fact]
    public async Task Pct_is_ignored_and_t_honoured_only_in_their_modes()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject; pct=0; t=y");
        var random = new FixedRandom(99);
        var bis = await Evaluate(zone, "example.com", DmarcMode.Rfc9989, random);
        Assert.Equal((DmarcDisposition.Quarantine, true, false), (bis.Disposition, bis.Testing, bis.SampledOut));
        Assert.Equal(0, random.Calls);
        var old = await Evaluate(new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject; t=y"), "example.com", DmarcMode.Rfc7489, random);
        Assert.Equal((DmarcDisposition.Reject, false), (old.Disposition, old.Testing));
    }

    [Fact]
    public async Task Rfc7489_record_at_org_domain_uses_sp()
    {
        var zone = new DmarcZone().Dmarc("example.co.uk", "v=DMARC1; p=reject; sp=quarantine");
        var result = await Evaluate(zone, "mail.example.co.uk", DmarcMode.Rfc7489);
        Assert.Equal(("example.co.uk", "example.co.uk", "sp", DmarcDisposition.Quarantine),
            (result.PolicyDomain, result.OrganizationalDomain, result.PolicyTag, result.Disposition));
        Assert.Equal(["_dmarc.mail.example.co.uk", "_dmarc.example.co.uk"], zone.TxtQueries);
    }

    [Fact]
    public async Task Rfc7489_ignores_records_above_the_org_domain_and_np()
    {
        var zone = new DmarcZone().Dmarc("co.uk", "v=DMARC1; p=reject; psd=y").Dmarc("example.org", "v=DMARC1; p=none; np=reject");
        Assert.Equal(DmarcResultCode.None, (await Evaluate(zone, "mail.example.co.uk", DmarcMode.Rfc7489)).Result);
        var np = await Evaluate(zone, "nosuch.example.org", DmarcMode.Rfc7489);
        Assert.Equal((DmarcPolicy.None, "p"), (np.Policy, np.PolicyTag));
        // In RFC 9989 mode the PSD record applies to the non-existent name.
        Assert.Equal(DmarcDisposition.Reject, (await Evaluate(zone, "mail.example.co.uk")).Disposition);
    }

    [Fact]
    public async Task Rfc7489_several_records_means_dmarc_is_not_applied()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject").Dmarc("example.com", "v=DMARC1; p=none")
            .Dmarc("example.com", "v=spf1 -all");
        var result = await Evaluate(zone, "example.com", DmarcMode.Rfc7489);
        Assert.Equal(DmarcResultCode.None, result.Result);
        Assert.Contains("2 DMARC records", result.Reason);
    }

    [Fact]
    public async Task Rfc7489_temperror()
    {
        var zone = new DmarcZone().Fail("_dmarc.example.com");
        Assert.Equal(DmarcResultCode.TempError, (await Evaluate(zone, "mail.example.com", DmarcMode.Rfc7489)).Result);
    }

    [Fact]
    public async Task Rfc7489_relaxed_alignment_uses_the_psl()
    {
        var zone = new DmarcZone().Dmarc("example.co.uk", "v=DMARC1; p=reject");
        var pass = await Evaluate(zone, "example.co.uk", DmarcMode.Rfc7489, null, new DmarcDkimInput("mail.example.co.uk", true));
        Assert.Equal(DmarcResultCode.Pass, pass.Result);
        var fail = await Evaluate(zone, "example.co.uk", DmarcMode.Rfc7489, null, new DmarcDkimInput("other.co.uk", true));
        Assert.Equal(DmarcResultCode.Fail, fail.Result);
    }

    [Fact]
    public async Task Psl_file_option_replaces_the_shipped_list()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "com\nexample.com\n");
            var zone = new DmarcZone().Dmarc("a.example.com", "v=DMARC1; p=reject");
            var evaluator = new DmarcEvaluator(zone, new DmarcOptions { Mode = DmarcMode.Rfc7489, PublicSuffixListPath = path });
            var result = await evaluator.EvaluateAsync("a.example.com", [new DmarcDkimInput("x.example.com", true)], null, default);
            Assert.Equal(DmarcResultCode.Fail, result.Result); // example.com is a suffix here, so the orgs differ
            Assert.Equal("a.example.com", result.OrganizationalDomain);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Rua_makes_an_invalid_policy_act_as_none()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=bogus; rua=mailto:r@example.com");
        var result = await Evaluate(zone, "example.com");
        Assert.Equal((DmarcResultCode.Fail, DmarcPolicy.None, DmarcDisposition.None), (result.Result, result.Policy, result.Disposition));
        Assert.Contains("acting as p=none", result.Reason);
    }

    [Fact]
    public async Task Authentication_results_clause()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject; t=y");
        var result = await Evaluate(zone, "Example.COM");
        var clause = result.ToAuthMethodResult();
        Assert.Equal(("dmarc", "fail", "p=reject dis=quarantine t=y"), (clause.Method, clause.Result, clause.Comment));
        Assert.Equal(["header.from=example.com", "policy.dmarc=quarantine"], clause.Properties!.Select(p => $"{p.Type}.{p.Name}={p.Value}"));
        var header = Milter.MailAuth.AuthenticationResults.AuthenticationResultsWriter.Format("mx.example.net", [clause], foldWidth: 998);
        Assert.Contains("dmarc=fail (p=reject dis=quarantine t=y) header.from=example.com policy.dmarc=quarantine", header);
    }

    [Fact]
    public async Task Identifier_walks_are_bounded()
    {
        var zone = new DmarcZone().Dmarc("example.com", "v=DMARC1; p=reject");
        var dkim = Enumerable.Range(0, 20).Select(i => new DmarcDkimInput($"s{i}.other.com", true)).ToArray();
        var evaluator = new DmarcEvaluator(zone, new DmarcOptions { MaxIdentifierDomains = 3 });
        var result = await evaluator.EvaluateAsync("example.com", dkim, null, default);
        Assert.Equal(DmarcResultCode.Fail, result.Result);
        Assert.True(zone.TxtQueries.Count() <= 1 + 3 * DmarcTreeWalk.MaxQueries + DmarcTreeWalk.MaxQueries);
    }
}
