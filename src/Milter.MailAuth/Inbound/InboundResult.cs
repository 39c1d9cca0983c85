using Milter.MailAuth.Arc;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Inbound;

/// <summary>Everything the inbound checks found for one message, and the Authentication-Results they make.</summary>
/// <param name="Spf">the MAIL FROM check; null when SPF is off or the client address is unknown</param>
/// <param name="Dkim">one result per DKIM-Signature field, in header order</param>
/// <param name="Author">the RFC5322.From author</param>
/// <param name="Dmarc">null when DMARC is off; without a single author domain, a permerror whose
/// <see cref="DmarcResult.AuthorDomain"/> is "" and whose reason is the author problem</param>
/// <param name="Clauses">the clauses, in the writer's order arc, spf, dkim, dmarc</param>
public sealed record InboundResult(
    SmtpEnvelope Envelope,
    SpfResult? Spf,
    IReadOnlyList<DkimVerificationResult> Dkim,
    AuthorDomain Author,
    DmarcResult? Dmarc,
    IReadOnlyList<AuthMethodResult> Clauses,
    string AuthservId)
{
    /// <summary>The ARC chain validation (RFC 8617 5.2); none when the message has no chain or ARC is off.</summary>
    public ArcChainResult Arc { get; init; } = ArcChainResult.NoChain;

    /// <summary>The DMARC evaluation of a real author domain (what aggregate reports are about), or null.</summary>
    public DmarcResult? DmarcOfAuthorDomain => Author.Status == AuthorStatus.Ok ? Dmarc : null;

    /// <summary>The Authentication-Results value (after the colon, starting with a space), folded at 78.</summary>
    public string AuthenticationResults => FormatAuthenticationResults();

    public string FormatAuthenticationResults(int foldWidth = 78)
        => AuthenticationResultsWriter.Format(AuthservId, Clauses, foldWidth);
}
