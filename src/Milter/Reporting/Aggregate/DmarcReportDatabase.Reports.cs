using System.Data.Common;
using System.Globalization;

namespace Milter.Reporting.Aggregate;

/// <summary>A period's report rows, grouped and counted by the database: only one row per report row and one final
/// policy per Policy Domain come back to .NET, not every evaluation.</summary>
internal sealed partial class DmarcReportDatabase
{
    /// <summary>The columns whose values make one report row (<see cref="AggregateReportBuilder"/>'s row key: everything
    /// but the time, the policy and the DMARC result). The SPF columns as <see cref="Read"/> reads them: without an SPF
    /// domain there is no SPF result, whatever the other three hold.</summary>
    private static readonly string[] ReportRowColumns =
    [
        "source_ip", "header_from", "envelope_from", "envelope_to", "disposition", "dkim_aligned", "spf_aligned", "reasons", "dkim",
        "spf_domain",
        "CASE WHEN spf_domain IS NULL THEN NULL ELSE COALESCE(spf_scope, 'mfrom') END AS spf_scope",
        "CASE WHEN spf_domain IS NULL THEN NULL ELSE COALESCE(spf_result, 'none') END AS spf_result",
        "CASE WHEN spf_domain IS NULL THEN NULL ELSE spf_human END AS spf_human",
    ];

    private static string ColumnName(string column) => column.Contains(" AS ", StringComparison.Ordinal) ? column[(column.LastIndexOf(' ') + 1)..] : column;

    /// <summary>
    /// The evaluations with <paramref name="from"/> &lt;= time &lt; <paramref name="to"/> grouped into report rows, per
    /// Policy Domain with its final policy (the policy of the latest evaluation; of several at that millisecond, the
    /// first stored), as <see cref="AggregateReportBuilder.Group"/> groups them from <see cref="Query"/>. Each group's
    /// <see cref="EvaluationGroup.First"/> is the place of its first evaluation in time order (time, then id), which breaks
    /// ties in the row order as the row-by-row grouping does; its sample has the first evaluation's time, the final
    /// policy and the least of the group's DMARC results (no report field).
    /// </summary>
    public IReadOnlyList<PolicyDomainGroups> ReportGroups(DateTimeOffset from, DateTimeOffset to)
    {
        var keys = string.Join(", ", ReportRowColumns.Select(ColumnName));
        // One snapshot for both queries: a final policy of an evaluation written after the grouping is not reported.
        using var tx = _dialect.BeginRead(_connection);
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = $"""
            SELECT policy_domain, {keys}, COUNT(*) AS n, MIN(seq) AS first_seq, MIN(time_ms) AS time_ms, MIN(result) AS result
            FROM (SELECT policy_domain, {string.Join(", ", ReportRowColumns)}, time_ms, result,
                         ROW_NUMBER() OVER (ORDER BY time_ms, id) AS seq
                  FROM evaluations WHERE time_ms >= @from AND time_ms < @to) AS e
            GROUP BY policy_domain, {keys};
            """;
        Add(command, "from", from.ToUnixTimeMilliseconds());
        Add(command, "to", to.ToUnixTimeMilliseconds());
        var rows = new Dictionary<string, List<(DmarcEvaluationRecord Fields, int Count, long First)>>(StringComparer.Ordinal);
        using (var reader = command.ExecuteReader())
        {
            var row = new Row(reader);
            var noPolicy = new DmarcPublishedPolicy("", "", "", null, null, "", "", false, "", null, []);
            while (reader.Read())
            {
                var fields = ReadRowFields(row, noPolicy) with
                {
                    Time = DateTimeOffset.FromUnixTimeMilliseconds(row.Integer("time_ms")),
                    Result = row.Text("result"),
                };
                string domain = row.Text("policy_domain");
                if (!rows.TryGetValue(domain, out var list))
                    rows.Add(domain, list = []);
                list.Add((fields, checked((int)row.Integer("n")), row.Integer("first_seq")));
            }
        }
        var groups = rows.Select(d =>
        {
            var policy = FinalPolicy(d.Key, from, to, tx);
            return new PolicyDomainGroups(policy, d.Value.Select(g => new EvaluationGroup(g.Fields with { Policy = policy }, g.Count, g.First)).ToList());
        }).ToList();
        tx.Commit();
        return groups;
    }

    /// <summary>The policy of the Policy Domain's latest evaluation in the period (of several at that millisecond, the first
    /// stored): one index lookup (policy_domain, time_ms).</summary>
    private DmarcPublishedPolicy FinalPolicy(string domain, DateTimeOffset from, DateTimeOffset to, DbTransaction tx)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = """
            SELECT policy_domain, discovery_method, p, sp, np, adkim, aspf, testing, fo, pct, rua FROM evaluations
            WHERE policy_domain = @domain AND time_ms >= @from AND time_ms < @to ORDER BY time_ms DESC, id LIMIT 1;
            """;
        Add(command, "domain", domain);
        Add(command, "from", from.ToUnixTimeMilliseconds());
        Add(command, "to", to.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        if (!reader.Read())
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"report store: no evaluation of {domain} in the period any more"));
        return ReadPolicy(new Row(reader));
    }
}
