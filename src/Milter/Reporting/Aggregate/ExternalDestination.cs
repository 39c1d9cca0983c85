using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;

namespace Milter.Reporting.Aggregate;

public enum DestinationVerdict
{
    /// <summary>Send to <see cref="DestinationCheck.Addresses"/>.</summary>
    Allowed,
    /// <summary>Not authorized: the URI MUST be ignored.</summary>
    Refused,
    /// <summary>The DNS check failed temporarily: try again later.</summary>
    TempError,
}

/// <summary>The outcome of the external-destination check for one rua address.</summary>
public sealed record DestinationCheck(DestinationVerdict Verdict, IReadOnlyList<string> Addresses, string Reason);

/// <summary>
/// RFC 9990 "Verifying External Destinations" (RFC 7489 7.1): when the rua host's Organizational Domain differs from
/// the Policy Domain's, the host must publish a v=DMARC1 TXT record at <c>&lt;policy-domain&gt;._report._dmarc.&lt;host&gt;</c>;
/// a rua= in that record replaces the URI, but only with addresses on the same host. Organizational Domains come from
/// the Public Suffix List (offline and deterministic for a command-line tool).
/// </summary>
public sealed class ExternalDestination(IDnsResolver dns, PublicSuffixList psl)
{
    public async Task<DestinationCheck> CheckAsync(string policyDomain, string address, CancellationToken ct)
    {
        string? host = DmarcEvaluationRecord.DomainOf(address);
        string? policy = DmarcDomain.Normalize(policyDomain);
        if (host is null || policy is null)
            return new(DestinationVerdict.Refused, [], $"'{address}' has no valid domain");
        var policyOrg = psl.GetOrganizationalDomain(policy);
        if (policyOrg is not null && policyOrg == psl.GetOrganizationalDomain(host))
            return new(DestinationVerdict.Allowed, [address], "same organizational domain");

        string name = $"{policy}._report._dmarc.{host}";
        if (name.Length > DmarcDomain.MaxNameLength)
            return new(DestinationVerdict.Refused, [], $"{name} is too long for DNS, so not authorized");
        var answer = await dns.GetTxtAsync(name, ct);
        if (answer.IsTemporaryFailure)
            return new(DestinationVerdict.TempError, [], $"TXT {name}: {answer.Error ?? answer.Status.ToString()}");
        var confirming = answer.Records.Where(DmarcRecord.IsDmarcRecord).ToList();
        if (confirming.Count == 0)
            return new(DestinationVerdict.Refused, [], $"no v=DMARC1 record at {name}");

        foreach (var txt in confirming)
        {
            if (!DmarcRecord.TryParse(txt, out var record, out _) || record!.AggregateReportUris.Count == 0)
                continue;
            // The replacement MUST use the same destination host; if it does not, send to neither URI.
            var replaced = record.AggregateReportUris.Where(u => u.MailAddress is not null).Select(u => u.MailAddress!).ToList();
            if (replaced.Any(a => DmarcEvaluationRecord.DomainOf(a) != host))
                return new(DestinationVerdict.Refused, [], $"rua= at {name} names another host");
            if (replaced.Count > 0)
                return new(DestinationVerdict.Allowed, replaced, $"authorized by {name} (rua replaced)");
        }
        return new(DestinationVerdict.Allowed, [address], $"authorized by {name}");
    }

    /// <summary>The mailto: addresses of rua URIs in order; other schemes and malformed URIs are skipped.</summary>
    public static IReadOnlyList<string> MailtoAddresses(IEnumerable<string> rua)
    {
        var list = new List<string>();
        foreach (var uri in rua)
        {
            // The record parser is the one place that knows the rua URI syntax (percent-decoding, size suffix).
            if (DmarcRecord.TryParse("v=DMARC1; rua=" + uri, out var record, out _))
                list.AddRange(record!.AggregateReportUris.Where(u => u.MailAddress is not null).Select(u => u.MailAddress!));
        }
        return list.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }
}
