using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Milter.Reporting.Aggregate;

/// <summary>Who sends the reports (report_metadata): org_name, the contact email, and the receiver domain used in
/// file names and the Subject's Submitter.</summary>
public sealed record ReportSubmitter(string OrgName, string Email, string Domain);

/// <summary>One row of a report: the evaluations that share source IP, identifiers, raw results and evaluation.</summary>
public sealed record AggregateReportRow(DmarcEvaluationRecord Sample, int Count);

/// <summary>One RFC 9990 aggregate report: one DMARC Policy Domain, one period.</summary>
public sealed record AggregateReport(
    ReportSubmitter Submitter,
    string ReportId,
    DmarcPublishedPolicy Policy,
    long Begin,
    long End,
    IReadOnlyList<AggregateReportRow> Rows)
{
    public int MessageCount => Rows.Sum(r => r.Count);

    /// <summary>RFC 9990 file name: <c>receiver "!" policy-domain "!" begin "!" end "!" unique-id ".xml.gz"</c>.</summary>
    public string FileName => $"{Submitter.Domain}!{Policy.Domain}!{Begin}!{End}!{ReportId}.xml.gz";

    /// <summary>RFC 9990 Subject: <c>Report Domain: D Submitter: S Report-ID: &lt;id&gt;</c>.</summary>
    public string Subject => $"Report Domain: {Policy.Domain} Submitter: {Submitter.Domain} Report-ID: <{ReportId}>";
}

/// <summary>Groups stored evaluations into reports: one per DMARC Policy Domain whose (latest) record has rua=.</summary>
public static class AggregateReportBuilder
{
    /// <summary>
    /// Reports for the evaluations of [<paramref name="begin"/>, <paramref name="end"/>] (epoch seconds, end inclusive).
    /// RFC 9990: one report per Policy Domain; subdomains without a record of their own are rows of that report; when
    /// the policy changed during the period, the final policy is reported. Domains without rua= get no report.
    /// </summary>
    public static IReadOnlyList<AggregateReport> Build(IEnumerable<DmarcEvaluationRecord> evaluations, ReportSubmitter submitter,
        long begin, long end)
    {
        var reports = new List<AggregateReport>();
        foreach (var domain in evaluations.GroupBy(e => e.Policy.Domain, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var policy = domain.MaxBy(e => e.Time)!.Policy;
            if (policy.Rua.Count == 0)
                continue;
            var rows = domain
                .GroupBy(RowKey, StringComparer.Ordinal)
                .Select(g => new AggregateReportRow(g.First(), g.Count()))
                .OrderByDescending(r => r.Count)
                .ThenBy(r => r.Sample.SourceIp, StringComparer.Ordinal)
                .ThenBy(r => r.Sample.HeaderFrom, StringComparer.Ordinal)
                .ToList();
            reports.Add(new AggregateReport(submitter, ReportId(submitter.Domain, domain.Key, begin, end), policy, begin, end, rows));
        }
        return reports;
    }

    /// <summary>A stable report_id (so a re-run for the same period reuses the file name, as RFC 9990 asks); only
    /// letters and digits, since it is also the file name's unique-id.</summary>
    public static string ReportId(string receiver, string policyDomain, long begin, long end)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{receiver}!{policyDomain}!{begin}!{end}"));
        return $"{begin}{Convert.ToHexStringLower(hash)[..16]}";
    }

    /// <summary>Everything but the time and the policy: evaluations with equal keys are one row.</summary>
    private static string RowKey(DmarcEvaluationRecord e) =>
        JsonSerializer.Serialize(e with { Time = default, Policy = NoPolicy, Result = "" }, DmarcReportJsonContext.Default.DmarcEvaluationRecord);

    private static readonly DmarcPublishedPolicy NoPolicy = new("", "", "", null, null, "", "", false, "", null, []);
}
