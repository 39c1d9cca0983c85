using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>DKIM verification results as Authentication-Results clauses (RFC 8601 2.7.1; header.b per RFC 6008).</summary>
internal static class DkimAuthResults
{
    /// <summary>One dkim clause per signature; none at all gives "dkim=none" (the message was not signed).</summary>
    public static IReadOnlyList<AuthMethodResult> ToClauses(IReadOnlyList<DkimVerificationResult> results)
    {
        if (results.Count == 0) return [new AuthMethodResult("dkim", "none")];
        return results.Select(ToClause).ToList();
    }

    private static AuthMethodResult ToClause(DkimVerificationResult r)
    {
        var properties = new List<AuthResultProperty>(5);
        if (r.Domain.Length > 0) properties.Add(new("header", "d", r.Domain));
        if (r.HeaderI.Length > 1) properties.Add(new("header", "i", r.HeaderI));
        if (r.Selector.Length > 0) properties.Add(new("header", "s", r.Selector));
        if (r.Algorithm.Length > 0) properties.Add(new("header", "a", r.Algorithm));
        if (r.HeaderB.Length > 0) properties.Add(AuthResultProperty.HeaderB(r.HeaderB));
        return new AuthMethodResult("dkim", r.ResultKeyword, r.IsPass ? null : r.Reason, properties);
    }
}
