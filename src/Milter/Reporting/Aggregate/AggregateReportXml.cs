using System.IO.Compression;
using System.Xml;
using System.Xml.Linq;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// The RFC 9990 XML of an aggregate report (namespace urn:ietf:params:xml:ns:dmarc-2.0, every element qualified,
/// children in schema order) and its gzip form.
/// </summary>
public static class AggregateReportXml
{
    public static readonly XNamespace Ns = "urn:ietf:params:xml:ns:dmarc-2.0";
    /// <summary>report_metadata/generator: "name version".</summary>
    public static readonly string Generator = "milter " +
        (typeof(AggregateReportXml).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    public static XDocument ToXml(AggregateReport report)
    {
        var p = report.Policy;
        var published = new XElement(Ns + "policy_published",
            new XElement(Ns + "domain", p.Domain),
            new XElement(Ns + "discovery_method", p.DiscoveryMethod),
            new XElement(Ns + "p", p.P),
            Optional("sp", p.Sp),
            Optional("np", p.Np),
            new XElement(Ns + "fo", p.Fo),
            new XElement(Ns + "adkim", p.Adkim),
            new XElement(Ns + "aspf", p.Aspf),
            new XElement(Ns + "testing", p.Testing ? "y" : "n"));
        return new XDocument(new XDeclaration("1.0", "UTF-8", null),
            new XElement(Ns + "feedback",
                new XElement(Ns + "version", "1.0"),
                new XElement(Ns + "report_metadata",
                    new XElement(Ns + "org_name", report.Submitter.OrgName),
                    new XElement(Ns + "email", report.Submitter.Email),
                    new XElement(Ns + "report_id", report.ReportId),
                    new XElement(Ns + "date_range",
                        new XElement(Ns + "begin", report.Begin),
                        new XElement(Ns + "end", report.End)),
                    new XElement(Ns + "generator", Generator)),
                published,
                report.Rows.Select(Record)));
    }

    private static XElement Record(AggregateReportRow row)
    {
        var e = row.Sample;
        return new XElement(Ns + "record",
            new XElement(Ns + "row",
                new XElement(Ns + "source_ip", e.SourceIp),
                new XElement(Ns + "count", row.Count),
                new XElement(Ns + "policy_evaluated",
                    new XElement(Ns + "disposition", e.Disposition),
                    new XElement(Ns + "dkim", e.DkimAligned ? "pass" : "fail"),
                    new XElement(Ns + "spf", e.SpfAligned ? "pass" : "fail"),
                    e.Reasons.Select(r => new XElement(Ns + "reason",
                        new XElement(Ns + "type", r.Type),
                        Optional("comment", r.Comment))))),
            new XElement(Ns + "identifiers",
                new XElement(Ns + "header_from", e.HeaderFrom),
                new XElement(Ns + "envelope_from", e.EnvelopeFrom),
                Optional("envelope_to", e.EnvelopeTo)),
            new XElement(Ns + "auth_results",
                OrderDkim(e.Dkim).Select(d => new XElement(Ns + "dkim",
                    new XElement(Ns + "domain", d.Domain),
                    new XElement(Ns + "selector", d.Selector),
                    new XElement(Ns + "result", d.Result),
                    Optional("human_result", d.HumanResult))),
                e.Spf is { } s
                    ? new XElement(Ns + "spf",
                        new XElement(Ns + "domain", s.Domain),
                        // RFC 9990 knows only the mfrom scope; a HELO check leaves the scope out.
                        s.Scope == "mfrom" ? new XElement(Ns + "scope", "mfrom") : null,
                        new XElement(Ns + "result", s.Result),
                        Optional("human_result", s.HumanResult))
                    : null));
    }

    /// <summary>RFC 9990: at most 100 signatures, aligned passes first, then other passes, then failures.</summary>
    private static IEnumerable<DmarcDkimAuth> OrderDkim(IReadOnlyList<DmarcDkimAuth> dkim) =>
        dkim.OrderBy(d => d.Result == "pass" ? (d.Aligned ? 0 : 1) : 2).Take(DmarcEvaluationRecord.MaxDkim);

    private static XElement? Optional(string name, string? value) => value is null ? null : new XElement(Ns + name, value);

    /// <summary>The report as gzip-compressed UTF-8 XML (RFC 1952).</summary>
    public static byte[] ToGzip(AggregateReport report)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        using (var writer = XmlWriter.Create(gzip, new XmlWriterSettings { Indent = true, Encoding = new System.Text.UTF8Encoding(false) }))
        {
            ToXml(report).Save(writer);
        }
        return buffer.ToArray();
    }

    /// <summary>Writes the report into <paramref name="directory"/> under its RFC 9990 file name; returns the path.</summary>
    public static string WriteFile(AggregateReport report, string directory)
    {
        string path = Path.Combine(directory, report.FileName);
        File.WriteAllBytes(path, ToGzip(report));
        return path;
    }
}
