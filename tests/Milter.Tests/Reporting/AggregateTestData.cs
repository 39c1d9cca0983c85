using System.IO.Compression;
using System.Xml.Linq;
using Milter.Reporting.Aggregate;

namespace Milter.Tests.Reporting;

/// <summary>Evaluations for the aggregate-report tests, and the parse-back of a generated report.</summary>
internal static class AggregateTestData
{
    public static readonly DateTimeOffset Day = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);
    public static readonly XNamespace Ns = "urn:ietf:params:xml:ns:dmarc-2.0";

    public static DmarcPublishedPolicy Policy(string domain, params string[] rua) =>
        new(domain, "treewalk", "reject", "quarantine", "none", "r", "s", false, "0", null, rua);

    public static DmarcEvaluationRecord Pass(string ip, DateTimeOffset time, DmarcPublishedPolicy policy, string from = "example.com") => new()
    {
        Time = time,
        SourceIp = ip,
        HeaderFrom = from,
        EnvelopeFrom = from,
        EnvelopeTo = "receiver.example",
        Policy = policy,
        Result = "pass",
        Disposition = "pass",
        DkimAligned = true,
        SpfAligned = true,
        Dkim = [new DmarcDkimAuth(from, "s1", "pass", true)],
        Spf = new DmarcSpfAuth(from, "mfrom", "pass"),
    };

    public static DmarcEvaluationRecord Fail(string ip, DateTimeOffset time, DmarcPublishedPolicy policy, string from = "example.com") => new()
    {
        Time = time,
        SourceIp = ip,
        HeaderFrom = from,
        EnvelopeFrom = "bounce.other.example",
        Policy = policy,
        Result = "fail",
        Disposition = "none",
        DkimAligned = false,
        SpfAligned = false,
        Reasons = [new DmarcPolicyReason("local_policy", "policy asked for reject, applied none")],
        Dkim = [new DmarcDkimAuth("other.example", "k", "fail", false, "body hash did not verify"), new DmarcDkimAuth("other.example", "k2", "pass", false)],
        Spf = new DmarcSpfAuth("bounce.other.example", "mfrom", "softfail"),
    };

    /// <summary>The XML of a gzip report file.</summary>
    public static XDocument Gunzip(byte[] gzip)
    {
        using var input = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
        return XDocument.Load(input);
    }

    public static string Text(XElement parent, string name) =>
        parent.Element(Ns + name)?.Value ?? throw new Xunit.Sdk.XunitException($"<{name}> missing in <{parent.Name.LocalName}>");

    /// <summary>A stored evaluation as the report shows it: everything a row is grouped by, from the XML.</summary>
    public static string RowKey(DmarcEvaluationRecord e) => string.Join("|",
        e.SourceIp, e.Disposition, e.DkimAligned ? "pass" : "fail", e.SpfAligned ? "pass" : "fail",
        string.Join(",", e.Reasons.Select(r => r.Type + ":" + r.Comment)),
        e.HeaderFrom, e.EnvelopeFrom, e.EnvelopeTo ?? "-",
        string.Join(",", e.Dkim.OrderBy(d => d.Result == "pass" ? (d.Aligned ? 0 : 1) : 2).Select(d => $"{d.Domain}/{d.Selector}/{d.Result}/{d.HumanResult}")),
        e.Spf is null ? "-" : $"{e.Spf.Domain}/{(e.Spf.Scope == "mfrom" ? "mfrom" : "")}/{e.Spf.Result}/{e.Spf.HumanResult}");

    /// <summary>The same key read back from one &lt;record&gt;.</summary>
    public static string RowKey(XElement record)
    {
        var row = record.Element(Ns + "row")!;
        var evaluated = row.Element(Ns + "policy_evaluated")!;
        var ids = record.Element(Ns + "identifiers")!;
        var auth = record.Element(Ns + "auth_results")!;
        var spf = auth.Element(Ns + "spf");
        return string.Join("|",
            Text(row, "source_ip"), Text(evaluated, "disposition"), Text(evaluated, "dkim"), Text(evaluated, "spf"),
            string.Join(",", evaluated.Elements(Ns + "reason").Select(r => Text(r, "type") + ":" + r.Element(Ns + "comment")?.Value)),
            Text(ids, "header_from"), Text(ids, "envelope_from"), ids.Element(Ns + "envelope_to")?.Value ?? "-",
            string.Join(",", auth.Elements(Ns + "dkim").Select(d =>
                $"{Text(d, "domain")}/{Text(d, "selector")}/{Text(d, "result")}/{d.Element(Ns + "human_result")?.Value}")),
            spf is null ? "-" : $"{Text(spf, "domain")}/{spf.Element(Ns + "scope")?.Value}/{Text(spf, "result")}/{spf.Element(Ns + "human_result")?.Value}");
    }
}
