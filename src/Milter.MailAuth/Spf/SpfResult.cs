using System.Net;

namespace Milter.MailAuth.Spf;

/// <summary>
/// The outcome of an SPF check. <see cref="Domain"/> is the domain whose policy gave the result (after
/// redirects); <see cref="Explanation"/> is set for <see cref="SpfResultCode.Fail"/> only (the domain's exp= text,
/// or the configured default when <see cref="ExplanationIsDefault"/>); <see cref="Reason"/> says why, in words,
/// for every result; <see cref="Mechanism"/> is the term that matched, if any.
/// </summary>
public sealed record SpfResult(
    SpfResultCode Code,
    string Domain,
    string? Explanation,
    string? Reason,
    string? Mechanism = null)
{
    public SpfIdentity Identity { get; init; }
    public IPAddress? ClientIp { get; init; }
    /// <summary>The &lt;sender&gt; checked ("postmaster@helo" for a null reverse-path or HELO check).</summary>
    public string? Sender { get; init; }
    /// <summary>The MAIL FROM as given (empty for the null reverse-path); null for a HELO check.</summary>
    public string? EnvelopeFrom { get; init; }
    public string? Helo { get; init; }
    /// <summary>True when <see cref="Explanation"/> is the receiver's default rather than the domain's exp= text.</summary>
    public bool ExplanationIsDefault { get; init; }
    /// <summary>DNS-querying terms evaluated and void lookups seen (diagnostics).</summary>
    public int DnsLookups { get; init; }
    public int VoidLookups { get; init; }

    /// <summary>The domain of the identity checked (RFC 7208 2.4: the MAIL FROM domain, or the HELO for the null
    /// sender), which is what DMARC aligns (RFC 9989 4.4); <see cref="Domain"/> may be a redirect= target instead.</summary>
    public string IdentityDomain
    {
        get
        {
            var sender = Sender ?? "";
            var at = sender.LastIndexOf('@');
            return at >= 0 ? sender[(at + 1)..] : Domain;
        }
    }

    /// <summary>The RFC 8601 keyword for Authentication-Results ("pass", "fail", ...).</summary>
    public string Keyword => Code.ToKeyword();
}
