using System.Net;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Spf;
using Milter.Reporting.Aggregate;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

public sealed class AggregateReportTests
{
    private static readonly ReportSubmitter Submitter = new("Receiver Org", "dmarc@receiver.example", "receiver.example");

    [Fact]
    public void Rows_GroupBySourceAndResults_WithCounts()
    {
        var policy = Policy("example.com", "mailto:d@example.com");
        var evaluations = new List<DmarcEvaluationRecord>();
        for (int i = 0; i < 5; i++) evaluations.Add(Pass("192.0.2.1", Day.AddMinutes(i), policy));
        for (int i = 0; i < 3; i++) evaluations.Add(Pass("192.0.2.2", Day.AddMinutes(i), policy));
        for (int i = 0; i < 2; i++) evaluations.Add(Fail("192.0.2.1", Day.AddMinutes(i), policy, "sub.example.com"));
        evaluations.Add(Pass("192.0.2.1", Day, policy) with { EnvelopeTo = null });

        var report = Assert.Single(AggregateReportBuilder.Build(evaluations, Submitter, 100, 199));
        Assert.Equal(11, report.MessageCount);
        Assert.Equal([5, 3, 2, 1], report.Rows.Select(r => r.Count));
        Assert.Equal(["192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.1"], report.Rows.Select(r => r.Sample.SourceIp));
        Assert.Equal("sub.example.com", report.Rows[2].Sample.HeaderFrom);
    }

    [Fact]
    public void OneReportPerPolicyDomain_OnlyWithRua_FinalPolicyWins()
    {
        var evaluations = new[]
        {
            Pass("192.0.2.1", Day, Policy("example.com", "mailto:old@example.com")),
            Pass("192.0.2.1", Day.AddHours(5), Policy("example.com", "mailto:new@example.com") with { P = "quarantine" }),
            Pass("192.0.2.1", Day, Policy("norua.example")),
            Pass("192.0.2.1", Day, Policy("bar.example.com", "mailto:x@example.com"), "bar.example.com"),
        };
        var reports = AggregateReportBuilder.Build(evaluations, Submitter, 100, 199);
        Assert.Equal(["bar.example.com", "example.com"], reports.Select(r => r.Policy.Domain));
        var com = reports[1];
        Assert.Equal("quarantine", com.Policy.P);
        Assert.Equal(["mailto:new@example.com"], com.Policy.Rua);
        Assert.Equal(2, com.MessageCount);
    }

    [Fact]
    public void FileName_Subject_AndReportId_FollowRfc9990()
    {
        var report = Assert.Single(AggregateReportBuilder.Build([Pass("192.0.2.1", Day, Policy("example.com", "mailto:d@example.com"))],
            Submitter, 1773446400, 1773532799));
        Assert.Matches("^[A-Za-z0-9]+$", report.ReportId);
        Assert.Equal($"receiver.example!example.com!1773446400!1773532799!{report.ReportId}.xml.gz", report.FileName);
        Assert.Equal($"Report Domain: example.com Submitter: receiver.example Report-ID: <{report.ReportId}>", report.Subject);
        // Stable: the same period gives the same name (a re-sent report reuses its file name); another period does not.
        Assert.Equal(report.ReportId, AggregateReportBuilder.ReportId("receiver.example", "example.com", 1773446400, 1773532799));
        Assert.NotEqual(report.ReportId, AggregateReportBuilder.ReportId("receiver.example", "example.com", 1773532800, 1773619199));
    }

    [Fact]
    public void Xml_HasTheRfc9990StructureAndOrder()
    {
        var policy = Policy("example.com", "mailto:d@example.com") with { Testing = true };
        var report = Assert.Single(AggregateReportBuilder.Build(
            [Fail("2001:db8::25", Day, policy) with { Dkim = [.. Enumerable.Range(0, 120).Select(i => new DmarcDkimAuth("x.example", $"s{i}", "fail", false)),
                new DmarcDkimAuth("other.example", "p", "pass", false), new DmarcDkimAuth("example.com", "a", "pass", true)] }],
            Submitter, 1773446400, 1773532799));
        var doc = Gunzip(AggregateReportXml.ToGzip(report));
        var root = doc.Root!;
        Assert.Equal(Ns + "feedback", root.Name);
        Assert.Equal(["version", "report_metadata", "policy_published", "record"], root.Elements().Select(e => e.Name.LocalName));
        Assert.All(root.Descendants(), e => Assert.Equal(Ns, e.Name.Namespace));
        Assert.Equal("1.0", Text(root, "version"));
        var meta = root.Element(Ns + "report_metadata")!;
        Assert.Equal("Receiver Org", Text(meta, "org_name"));
        Assert.Equal("dmarc@receiver.example", Text(meta, "email"));
        Assert.Equal(report.ReportId, Text(meta, "report_id"));
        Assert.Equal("1773446400", Text(meta.Element(Ns + "date_range")!, "begin"));
        Assert.Equal("1773532799", Text(meta.Element(Ns + "date_range")!, "end"));
        var pp = root.Element(Ns + "policy_published")!;
        Assert.Equal(["domain", "discovery_method", "p", "sp", "np", "fo", "adkim", "aspf", "testing"], pp.Elements().Select(e => e.Name.LocalName));
        Assert.Equal(["example.com", "treewalk", "reject", "quarantine", "none", "0", "r", "s", "y"], pp.Elements().Select(e => e.Value));
        var record = root.Element(Ns + "record")!;
        Assert.Equal(["row", "identifiers", "auth_results"], record.Elements().Select(e => e.Name.LocalName));
        var evaluated = record.Element(Ns + "row")!.Element(Ns + "policy_evaluated")!;
        Assert.Equal(["disposition", "dkim", "spf", "reason"], evaluated.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("2001:db8::25", Text(record.Element(Ns + "row")!, "source_ip"));
        // At most 100 signatures: the aligned pass first, then the other pass, then failures.
        var dkim = record.Element(Ns + "auth_results")!.Elements(Ns + "dkim").ToList();
        Assert.Equal(100, dkim.Count);
        Assert.Equal(["a", "p", "s0"], dkim.Take(3).Select(d => Text(d, "selector")));
        Assert.Equal(["domain", "selector", "result"], dkim[0].Elements().Select(e => e.Name.LocalName));
        Assert.Equal("spf", record.Element(Ns + "auth_results")!.Elements().Last().Name.LocalName);
    }

    [Fact]
    public void From_EngineResult_FillsEveryField()
    {
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=reject; sp=quarantine; adkim=s; t=y; fo=1; rua=mailto:agg@example.com,mailto:x@example.net", out var record, out _));
        var dmarc = new DmarcResult(DmarcResultCode.Fail, "mail.example.com", "example.com", "example.com", DmarcPolicy.Quarantine, "sp",
            DmarcDisposition.None, Testing: true, DkimAligned: false, SpfAligned: false, "nothing aligned", record);
        var dkim = new[]
        {
            new DkimVerificationResult(DkimResult.Fail, "signature did not verify", "other.example", "s1", "rsa-sha256", "@other.example", "abc"),
            new DkimVerificationResult(DkimResult.Pass, null, "third.example", "s2", "ed25519-sha256", "@third.example", "def"),
        };
        var spf = new SpfResult(SpfResultCode.SoftFail, "bounce.other.example", null, "~all matched") { Identity = SpfIdentity.MailFrom };

        var e = DmarcEvaluationRecord.From(Day, IPAddress.Parse("::ffff:192.0.2.7"), "<user@Bounce.Other.Example>", "rcpt@Receiver.Example",
            dmarc, dkim, spf, applied: null)!;

        Assert.Equal(Day, e.Time);
        Assert.Equal("192.0.2.7", e.SourceIp);
        Assert.Equal("mail.example.com", e.HeaderFrom);
        Assert.Equal("bounce.other.example", e.EnvelopeFrom);
        Assert.Equal("receiver.example", e.EnvelopeTo);
        Assert.Equal(new DmarcPublishedPolicy("example.com", "treewalk", "reject", "quarantine", "quarantine", "s", "r", true, "1", null, e.Policy.Rua), e.Policy);
        Assert.Equal(["mailto:agg@example.com", "mailto:x@example.net"], e.Policy.Rua);
        Assert.Equal("fail", e.Result);
        Assert.Equal("none", e.Disposition);
        Assert.False(e.DkimAligned);
        Assert.Equal([new DmarcPolicyReason("policy_test_mode", "t=y")], e.Reasons);
        Assert.Equal([new DmarcDkimAuth("other.example", "s1", "fail", false, "signature did not verify"), new DmarcDkimAuth("third.example", "s2", "pass", false)], e.Dkim);
        Assert.Equal(new DmarcSpfAuth("bounce.other.example", "mfrom", "softfail", "~all matched"), e.Spf);
    }

    [Fact]
    public void From_PassUnderEnforcingPolicy_IsDispositionPass_AndLocalOverrideHasAReason()
    {
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=reject; rua=mailto:agg@example.com", out var record, out _));
        var pass = new DmarcResult(DmarcResultCode.Pass, "example.com", "example.com", "example.com", DmarcPolicy.Reject, "p",
            DmarcDisposition.None, false, true, false, null, record) { AlignedDkimDomain = "example.com" };
        var dkim = new[] { new DkimVerificationResult(DkimResult.Pass, null, "example.com", "s1", "rsa-sha256", "@example.com", "abc") };
        var e = DmarcEvaluationRecord.From(Day, IPAddress.Loopback, "", null, pass, dkim, null)!;
        Assert.Equal("pass", e.Disposition);
        Assert.True(e.Dkim[0].Aligned);
        Assert.Equal("", e.EnvelopeFrom);
        Assert.Null(e.Spf);

        var fail = pass with { Result = DmarcResultCode.Fail, Disposition = DmarcDisposition.Reject, DkimAligned = false };
        var recordOnly = DmarcEvaluationRecord.From(Day, IPAddress.Loopback, "a@example.com", null, fail, [], null, applied: DmarcDisposition.None)!;
        Assert.Equal("none", recordOnly.Disposition);
        Assert.Equal("local_policy", Assert.Single(recordOnly.Reasons).Type);

        var noPolicy = pass with { Record = null, PolicyDomain = null, Policy = null, Result = DmarcResultCode.None };
        Assert.Null(DmarcEvaluationRecord.From(Day, IPAddress.Loopback, "a@example.com", null, noPolicy, [], null));
    }

    [Fact]
    public void From_ArcOverride_IsDispositionNone_WithALocalPolicyReasonNamingTheChain()
    {
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=reject; rua=mailto:agg@example.com", out var record, out _));
        var lifted = new DmarcResult(DmarcResultCode.Fail, "example.com", "example.com", "example.com", DmarcPolicy.Reject, "p",
            DmarcDisposition.None, false, false, false, null, record) { ArcOverride = "arc=pass i=1 as[1].d=lists.example aar[1] dmarc=pass" };
        var e = DmarcEvaluationRecord.From(Day, IPAddress.Loopback, "a@lists.example", null, lifted, [], null)!;
        Assert.Equal("fail", e.Result);
        Assert.Equal("none", e.Disposition);
        Assert.Equal([new DmarcPolicyReason("local_policy", "arc=pass i=1 as[1].d=lists.example aar[1] dmarc=pass")], e.Reasons);
    }
}
