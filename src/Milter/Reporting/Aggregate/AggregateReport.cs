using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Milter.Reporting.Aggregate;

/// <summary>Who sends the reports (report_metadata): org_name, the contact email, and the receiver domain used in
/// file names and the Subject's Submitter.</summary>
public sealed record ReportSubmitter(string OrgName, string Email, string Domain);

/// <summary>One row of a report: the evaluations that share source IP, identifiers, raw results and evaluation.</summary>
public sealed record AggregateReportRow(DmarcEvaluationRecord Sample, int Count);

/// <summary>The evaluations of one report row: the fields they share (<see cref="Sample"/>), how many, and the place of the
/// first of them in time order (it orders rows that tie on count, source IP and header_from).</summary>
internal sealed record EvaluationGroup(DmarcEvaluationRecord Sample, int Count, long First);

/// <summary>A Policy Domain's report rows and its final policy (that of its latest evaluation).</summary>
internal sealed record PolicyDomainGroups(DmarcPublishedPolicy Policy, IReadOnlyList<EvaluationGroup> Groups);

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
        long begin, long end) =>
        Build(Group(evaluations), submitter, begin, end);

    /// <summary>The reports of the stored evaluations with <paramref name="from"/> &lt;= time &lt; <paramref name="to"/>,
    /// grouped and counted by the database (<see cref="DmarcReportDatabase.ReportGroups"/>); the same reports as
    /// <see cref="Build(IEnumerable{DmarcEvaluationRecord}, ReportSubmitter, long, long)"/> of the evaluations in time order.
    /// RFC 9990: begin and end are the period in epoch seconds; end is its last second.</summary>
    internal static IReadOnlyList<AggregateReport> FromStore(DmarcReportDatabase db, DateTimeOffset from, DateTimeOffset to,
        ReportSubmitter submitter) =>
        Build(db.ReportGroups(from, to), submitter, from.ToUnixTimeSeconds(), to.ToUnixTimeSeconds() - 1);

    /// <summary>The evaluations (in time order) grouped into report rows per Policy Domain, in .NET: each group's
    /// <see cref="EvaluationGroup.First"/> is the place of its first evaluation in the sequence, and a domain's final
    /// policy the first of its latest evaluations'.</summary>
    internal static IEnumerable<PolicyDomainGroups> Group(IEnumerable<DmarcEvaluationRecord> evaluations) =>
        evaluations.Select((e, i) => (Evaluation: e, Place: (long)i))
            .GroupBy(x => x.Evaluation.Policy.Domain, StringComparer.Ordinal)
            .Select(domain => new PolicyDomainGroups(
                domain.MaxBy(x => x.Evaluation.Time).Evaluation.Policy,
                domain.GroupBy(x => RowKey(x.Evaluation), StringComparer.Ordinal)
                    .Select(g => new EvaluationGroup(g.First().Evaluation, g.Count(), g.First().Place))
                    .ToList()));

    /// <summary>One report per Policy Domain with rua= (in ordinal order of the domain), its rows by count (most first),
    /// then source IP, header_from, and the place of their first evaluation.</summary>
    internal static IReadOnlyList<AggregateReport> Build(IEnumerable<PolicyDomainGroups> domains, ReportSubmitter submitter,
        long begin, long end)
    {
        var reports = new List<AggregateReport>();
        foreach (var domain in domains.OrderBy(d => d.Policy.Domain, StringComparer.Ordinal))
        {
            var policy = domain.Policy;
            if (policy.Rua.Count == 0)
                continue;
            var rows = domain.Groups
                .OrderByDescending(g => g.Count)
                .ThenBy(g => g.Sample.SourceIp, StringComparer.Ordinal)
                .ThenBy(g => g.Sample.HeaderFrom, StringComparer.Ordinal)
                .ThenBy(g => g.First)
                .Select(g => new AggregateReportRow(g.Sample, g.Count))
                .ToList();
            reports.Add(new AggregateReport(submitter, ReportId(submitter.Domain, policy.Domain, begin, end), policy, begin, end, rows));
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
