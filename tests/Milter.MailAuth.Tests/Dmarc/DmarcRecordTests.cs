using Milter.MailAuth.Dmarc;

namespace Milter.MailAuth.Tests.Dmarc;

public sealed class DmarcRecordTests
{
    private static DmarcRecord Parse(string text)
    {
        Assert.True(DmarcRecord.TryParse(text, out var record, out var error), error);
        return record!;
    }

    [Fact]
    public void Every_tag_is_read()
    {
        var r = Parse("v=DMARC1; p=reject; sp=quarantine; np=none; adkim=s; aspf=s; t=y; psd=n; " +
            "rua=mailto:a@example.com!10m, mailto:b@Example.ORG; ruf=mailto:f@example.com; fo=1:d; pct=50; rf=afrf; ri=3600");
        Assert.Equal(DmarcPolicy.Reject, r.Policy);
        Assert.Equal(DmarcPolicy.Quarantine, r.SubdomainPolicy);
        Assert.Equal(DmarcPolicy.None, r.NonExistentPolicy);
        Assert.Equal(DmarcAlignmentMode.Strict, r.DkimAlignment);
        Assert.Equal(DmarcAlignmentMode.Strict, r.SpfAlignment);
        Assert.True(r.Testing);
        Assert.Equal(DmarcPsd.No, r.Psd);
        Assert.Equal(["a@example.com", "b@example.org"], r.AggregateReportUris.Select(u => u.MailAddress));
        Assert.Equal("mailto:a@example.com", r.AggregateReportUris[0].Uri);
        Assert.Equal("f@example.com", Assert.Single(r.FailureReportUris).MailAddress);
        Assert.Equal("1:d", r.FailureOptions);
        Assert.Equal(50, r.Percent);
        Assert.Equal(3600u, r.ReportInterval);
        Assert.Empty(r.Warnings);
        Assert.Null(r.PolicyProblem);
    }

    [Fact]
    public void Defaults()
    {
        var r = Parse("v=DMARC1; p=none");
        Assert.Null(r.SubdomainPolicy);
        Assert.Null(r.NonExistentPolicy);
        Assert.Equal(DmarcAlignmentMode.Relaxed, r.DkimAlignment);
        Assert.Equal(DmarcAlignmentMode.Relaxed, r.SpfAlignment);
        Assert.False(r.Testing);
        Assert.Equal(DmarcPsd.Unknown, r.Psd);
        Assert.Empty(r.AggregateReportUris);
        Assert.Equal("0", r.FailureOptions);
        Assert.Equal(100, r.Percent);
        Assert.Equal("afrf", r.ReportFormat);
        Assert.Equal(86400u, r.ReportInterval);
    }

    [Theory]
    [InlineData("V=DMARC1; P=Reject; ADKIM=S; Aspf=S; T=Y; PSD=Y", DmarcPolicy.Reject)]
    [InlineData("v = DMARC1 ;  p = quarantine ; ", DmarcPolicy.Quarantine)]
    [InlineData("v=DMARC1;p=none;", DmarcPolicy.None)]
    [InlineData("v=DMARC1;\tp=none\t;;", DmarcPolicy.None)]
    public void Tag_names_and_keywords_are_case_insensitive_and_whitespace_is_allowed(string text, DmarcPolicy policy)
    {
        var r = Parse(text);
        Assert.Equal(policy, r.Policy);
        Assert.Empty(r.Warnings);
    }

    [Theory]
    [InlineData("v=dmarc1; p=none")]
    [InlineData("v=DMARC2; p=none")]
    [InlineData("v=DMARC10; p=none")]
    [InlineData("p=none; v=DMARC1")]
    [InlineData("v=spf1 -all")]
    [InlineData("DMARC1")]
    [InlineData("   ")]
    public void Not_a_dmarc_record(string text)
    {
        Assert.False(DmarcRecord.IsDmarcRecord(text));
        Assert.False(DmarcRecord.TryParse(text, out var record, out var error));
        Assert.Null(record);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void An_over_long_record_is_refused()
    {
        Assert.False(DmarcRecord.TryParse("v=DMARC1; p=none; x=" + new string('a', 5000), out _, out var error));
        Assert.Contains("at most", error);
    }

    [Theory]
    [InlineData("adkim=x", "adkim")]
    [InlineData("aspf=relaxed", "aspf")]
    [InlineData("t=maybe", "t")]
    [InlineData("psd=q", "psd")]
    [InlineData("fo=2", "fo")]
    [InlineData("fo=0:1", "fo")]
    [InlineData("pct=-1", "pct")]
    [InlineData("pct=101", "pct")]
    [InlineData("ri=1.5", "ri")]
    [InlineData("rf=iodef", "rf")]
    [InlineData("rua=not a uri", "rua")]
    [InlineData("rua=mailto:x@example.com!big", "rua")]
    public void Bad_values_fall_back_to_defaults_with_a_warning(string tag, string name)
    {
        var r = Parse("v=DMARC1; p=reject; " + tag);
        Assert.Contains(r.Warnings, w => w.StartsWith(name + ": invalid value", StringComparison.Ordinal));
        Assert.Equal(DmarcAlignmentMode.Relaxed, r.DkimAlignment);
        Assert.Equal(DmarcAlignmentMode.Relaxed, r.SpfAlignment);
        Assert.False(r.Testing);
        Assert.Equal(DmarcPsd.Unknown, r.Psd);
        Assert.Equal("0", r.FailureOptions);
        Assert.Equal(100, r.Percent);
        Assert.Equal(86400u, r.ReportInterval);
        Assert.Empty(r.AggregateReportUris);
        Assert.Equal(new DmarcPolicySet(DmarcPolicy.Reject, DmarcPolicy.Reject, DmarcPolicy.Reject, false), r.EffectivePolicies(DmarcMode.Rfc9989));
    }

    [Fact]
    public void Unknown_repeated_and_malformed_tags()
    {
        var r = Parse("v=DMARC1; p=reject; foo=bar; p=none; garbage; 9x=1");
        Assert.Equal(DmarcPolicy.Reject, r.Policy);
        Assert.Contains(r.Warnings, w => w.StartsWith("p: repeated", StringComparison.Ordinal));
        Assert.Contains(r.Warnings, w => w.Contains("malformed tag \"garbage\"", StringComparison.Ordinal));
        Assert.Contains(r.Warnings, w => w.Contains("malformed tag \"9x=1\"", StringComparison.Ordinal));
        Assert.DoesNotContain(r.Warnings, w => w.Contains("foo", StringComparison.Ordinal));
    }

    [Theory]
    // RFC 9989 4.10.1: invalid or missing p (or invalid sp/np) -> p=none when rua holds a valid URI, else not applied.
    [InlineData("v=DMARC1; rua=mailto:r@example.com", "no p tag", true)]
    [InlineData("v=DMARC1; p=bogus; rua=mailto:r@example.com", "invalid p value", true)]
    [InlineData("v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com", "invalid sp value", true)]
    [InlineData("v=DMARC1; rua=ftp://r.example.com", "no p tag", true)]
    [InlineData("v=DMARC1", "no p tag", false)]
    [InlineData("v=DMARC1; p=bogus; rua=bad uri", "invalid p value", false)]
    [InlineData("v=DMARC1; p=reject; sp=bogus", "invalid sp value", false)]
    public void Invalid_or_missing_policy(string text, string problem, bool actsAsNone)
    {
        var r = Parse(text);
        Assert.Equal(problem, r.PolicyProblem);
        foreach (var mode in new[] { DmarcMode.Rfc9989, DmarcMode.Rfc7489 })
        {
            var set = r.EffectivePolicies(mode);
            if (actsAsNone) Assert.Equal(new DmarcPolicySet(DmarcPolicy.None, DmarcPolicy.None, DmarcPolicy.None, true), set);
            else Assert.Null(set);
        }
    }

    [Fact]
    public void Invalid_np_matters_only_in_rfc9989_mode()
    {
        var r = Parse("v=DMARC1; p=reject; np=bogus");
        Assert.True(r.NonExistentPolicyInvalid);
        Assert.Null(r.EffectivePolicies(DmarcMode.Rfc9989));
        Assert.Equal(new DmarcPolicySet(DmarcPolicy.Reject, DmarcPolicy.Reject, DmarcPolicy.Reject, false), r.EffectivePolicies(DmarcMode.Rfc7489));
    }

    [Theory]
    [InlineData("v=DMARC1; p=reject", DmarcPolicy.Reject, DmarcPolicy.Reject, DmarcPolicy.Reject)]
    [InlineData("v=DMARC1; p=reject; sp=none", DmarcPolicy.Reject, DmarcPolicy.None, DmarcPolicy.None)]
    [InlineData("v=DMARC1; p=none; np=reject", DmarcPolicy.None, DmarcPolicy.None, DmarcPolicy.Reject)]
    [InlineData("v=DMARC1; p=none; sp=quarantine; np=reject", DmarcPolicy.None, DmarcPolicy.Quarantine, DmarcPolicy.Reject)]
    public void Subdomain_and_nonexistent_policies_fall_back(string text, DmarcPolicy p, DmarcPolicy sp, DmarcPolicy np)
    {
        var r = Parse(text);
        Assert.Equal(new DmarcPolicySet(p, sp, np, false), r.EffectivePolicies(DmarcMode.Rfc9989));
        Assert.Equal(new DmarcPolicySet(p, sp, sp, false), r.EffectivePolicies(DmarcMode.Rfc7489)); // np is not an RFC 7489 tag
    }

    [Theory]
    [InlineData("mailto:dmarc@example.com", "mailto", "dmarc@example.com")]
    [InlineData("mailto:dmarc@example.com!10m", "mailto", "dmarc@example.com")]
    [InlineData("mailto:dmarc@example.com!1024", "mailto", "dmarc@example.com")]
    [InlineData("MAILTO:%64marc@EXAMPLE.com", "mailto", "dmarc@example.com")]
    [InlineData("mailto:reports@b%C3%BCcher.example", "mailto", "reports@xn--bcher-kva.example")]
    [InlineData("mailto:r@example.com?subject=x", "mailto", "r@example.com")]
    [InlineData("mailto://abuse.com", "mailto", null)]
    [InlineData("https://reports.example.com/dmarc", "https", null)]
    public void Report_uris(string uri, string scheme, string? address)
    {
        var r = Parse("v=DMARC1; p=none; rua=" + uri);
        var parsed = Assert.Single(r.AggregateReportUris);
        Assert.Equal(scheme, parsed.Scheme);
        Assert.Equal(address, parsed.MailAddress);
        Assert.True(r.HasValidRua);
    }

    [Fact]
    public void Uri_list_is_bounded()
    {
        var uris = string.Join(",", Enumerable.Range(0, 40).Select(i => $"mailto:r{i}@example.com"));
        var r = Parse("v=DMARC1; p=none; rua=" + uris);
        Assert.Equal(DmarcRecord.MaxUris, r.AggregateReportUris.Count);
    }
}
