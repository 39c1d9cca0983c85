using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;

namespace Milter.MailAuth.Arc;

/// <summary>
/// Whether a passing ARC chain lets a DMARC failure through (RFC 8617 7.2.1, local policy): every sealer from the
/// newest set back to the first set (newest first) whose ARC-Authentication-Results show the author authenticated
/// (dmarc=pass, or dkim=pass / spf=pass for a domain aligned with the author domain) must be trusted. A trusted
/// name covers its subdomains. dmarc=pass counts only with header.from equal to the author domain. Alignment for
/// dkim/spf here is DMARC's relaxed alignment by organizational domain from the Public Suffix List (RFC 7489 3.2):
/// the identifier and the author domain have the same registrable domain, so siblings under one organization align
/// and a public suffix (co.uk) aligns with nothing below it. The PSL, not the RFC 9989 DNS tree walk: the AAR is
/// read after DMARC was evaluated, and a walk per AAR identifier would cost DNS lookups for every trusted chain.
/// </summary>
public static class ArcTrust
{
    /// <summary>The override's comment ("arc=pass i=2 as[2].d=lists.example.net aar[1] dmarc=pass"), or null when the
    /// chain does not qualify.</summary>
    public static string? Override(ArcChainResult arc, string authorDomain, IReadOnlyCollection<string> trustedSealers,
        PublicSuffixList? publicSuffixes = null)
    {
        PublicSuffixList psl = publicSuffixes ?? PublicSuffixList.Default;
        ArgumentNullException.ThrowIfNull(arc);
        ArgumentNullException.ThrowIfNull(trustedSealers);
        if (arc.Result != ArcResult.Pass || trustedSealers.Count == 0 || authorDomain.Length == 0) return null;
        for (int k = arc.Sets.Count - 1; k >= 0; k--)
        {
            ArcSet set = arc.Sets[k];
            if (!trustedSealers.Any(t => DkimKeyRecordName.IsSameOrSubdomain(set.SealDomain, t.Trim().TrimEnd('.')))) return null;
            if (Authenticated(set.AuthenticationResults, authorDomain, psl) is { } how)
                return $"arc=pass i={arc.Instances} as[{arc.Instances}].d={arc.Sets[^1].SealDomain} aar[{set.Instance}] {how}";
        }
        return null;
    }

    private static string? Authenticated(string payload, string authorDomain, PublicSuffixList psl)
    {
        if (!AuthenticationResultsParser.TryParse(payload, out var parsed) || parsed is null) return null;
        foreach (AuthMethodResult r in parsed.Results)
        {
            if (!r.Result.Equals("pass", StringComparison.OrdinalIgnoreCase)) continue;
            string method = r.Method.ToLowerInvariant();
            // dmarc=pass counts only for this author domain: a trusted sealer's AAR about another From (a list that
            // rewrote it, an older hop) says nothing about this one.
            if (method == "dmarc")
            {
                if (Property(r, "header", "from") is { } from && from.Trim().TrimEnd('.').Equals(authorDomain.TrimEnd('.'), StringComparison.OrdinalIgnoreCase))
                    return "dmarc=pass";
                continue;
            }
            string? domain = method switch
            {
                "dkim" => Property(r, "header", "d") ?? Domain(Property(r, "header", "i")),
                "spf" => Domain(Property(r, "smtp", "mailfrom")) ?? Property(r, "smtp", "helo"),
                _ => null,
            };
            if (domain is not null && Aligned(domain.TrimEnd('.'), authorDomain, psl))
                return $"{method}=pass {domain.ToLowerInvariant()}";
        }
        return null;
    }

    private static bool Aligned(string domain, string author, PublicSuffixList psl) =>
        psl.GetOrganizationalDomain(domain) is { } org && org == psl.GetOrganizationalDomain(author);

    private static string? Property(AuthMethodResult r, string type, string name) =>
        r.Properties?.FirstOrDefault(p => p.Type.Equals(type, StringComparison.OrdinalIgnoreCase) && p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value;

    private static string? Domain(string? address) => address is null ? null : address[(address.LastIndexOf('@') + 1)..] is { Length: > 0 } d ? d : null;
}
