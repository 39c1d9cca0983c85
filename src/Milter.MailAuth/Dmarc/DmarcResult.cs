using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Dmarc;

/// <summary>One checked DKIM signature as DMARC sees it: its d= and whether it verified.</summary>
public sealed record DmarcDkimInput(string Domain, bool Passed, string? Selector = null)
{
    public static DmarcDkimInput From(DkimVerificationResult result) => new(result.Domain, result.IsPass, result.Selector);
}

/// <summary>The SPF check of the MAIL FROM identity (or of the HELO identity for a null reverse-path, RFC 7208 2.4).</summary>
public sealed record DmarcSpfInput(string Domain, SpfResultCode Result);

/// <summary>
/// The DMARC outcome for one message.
/// </summary>
/// <param name="Result">pass, fail, none, temperror or permerror</param>
/// <param name="AuthorDomain">the RFC5322.From domain as evaluated (A-labels, lower case)</param>
/// <param name="PolicyDomain">where the applied record was found (the DMARC Policy Domain)</param>
/// <param name="OrganizationalDomain">the author's Organizational Domain when it was determined</param>
/// <param name="Policy">the published policy selected for the author (p, sp or np, after the invalid-policy rule)</param>
/// <param name="PolicyTag">"p", "sp" or "np"</param>
/// <param name="Disposition">what the policy asks for this message: none for a pass, else <paramref name="Policy"/>
/// lowered one level by t=y (RFC 9989) or by a pct sample-out (RFC 7489)</param>
/// <param name="Testing">the record has t=y (RFC 9989 mode)</param>
/// <param name="Reason">why the result is what it is (which identifier aligned, or why none did)</param>
public sealed record DmarcResult(
    DmarcResultCode Result,
    string AuthorDomain,
    string? PolicyDomain,
    string? OrganizationalDomain,
    DmarcPolicy? Policy,
    string? PolicyTag,
    DmarcDisposition Disposition,
    bool Testing,
    bool DkimAligned,
    bool SpfAligned,
    string? Reason,
    DmarcRecord? Record)
{
    /// <summary>RFC 7489 mode: the pct draw left this failing message out of the sample, so the policy was lowered.</summary>
    public bool SampledOut { get; init; }
    /// <summary>"treewalk" (RFC 9989) or "psl" (RFC 7489).</summary>
    public string DiscoveryMethod { get; init; } = "treewalk";
    /// <summary>A DMARC failure let through by a trusted ARC chain (RFC 8617 7.2.1): the disposition was set to none
    /// and this says why (the local_policy comment of the aggregate report); null otherwise.</summary>
    public string? ArcOverride { get; init; }
    /// <summary>The aligned DKIM domain that made the pass, if any.</summary>
    public string? AlignedDkimDomain { get; init; }

    public string ResultKeyword => Result.ToKeyword();

    /// <summary>
    /// The policy.dmarc value (RFC 9989 9.1): the policy evaluated after sp/np and t processing, i.e. the
    /// disposition for a failure and the selected policy for a pass; null when no policy applies.
    /// </summary>
    public string? PolicyKeyword => Policy is null ? null
        : Result == DmarcResultCode.Fail ? Disposition.ToKeyword() : Policy.Value.ToKeyword();

    /// <summary>
    /// The dmarc= clause of Authentication-Results: <c>dmarc=fail (p=reject dis=quarantine) header.from=example.com
    /// policy.dmarc=quarantine</c>. The comment names the published policy and the disposition.
    /// </summary>
    public AuthMethodResult ToAuthMethodResult()
    {
        var properties = new List<AuthResultProperty>(2) { new("header", "from", AuthorDomain) };
        if (PolicyKeyword is { } policy)
            properties.Add(new AuthResultProperty("policy", "dmarc", policy));
        string? comment = Policy is null ? null
            : $"{PolicyTag}={Policy.Value.ToKeyword()} dis={Disposition.ToKeyword()}" + (Testing ? " t=y" : "") + (SampledOut ? " sampled_out" : "")
              + (ArcOverride is not null ? " local_policy arc=pass" : "");
        return new AuthMethodResult("dmarc", ResultKeyword, Properties: properties, Comment: comment);
    }
}
