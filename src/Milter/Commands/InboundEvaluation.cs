using System.Net;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;

namespace Milter.Commands;

/// <summary>Engine settings for <see cref="InboundEvaluation"/>.</summary>
public sealed record InboundEvaluationOptions
{
    public SpfOptions Spf { get; init; } = new();
    public DkimVerifierOptions Dkim { get; init; } = new();
    public DmarcOptions Dmarc { get; init; } = new();
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// The inbound evaluation of one whole message, as the daemon makes it: SPF for the MAIL FROM identity
/// (postmaster@HELO for the null reverse-path, RFC 7208 2.4), every DKIM signature, then DMARC for the
/// RFC5322.From domain with the DKIM and SPF results as alignment inputs (RFC 9989 4.4).
/// SPF and DKIM run concurrently; DMARC needs both.
/// </summary>
public sealed class InboundEvaluation
{
    private readonly SpfChecker _spf;
    private readonly DkimVerifier _dkim;
    private readonly DmarcEvaluator _dmarc;

    public InboundEvaluation(IDnsResolver dns, InboundEvaluationOptions options)
    {
        _spf = new SpfChecker(dns, options.Spf, options.Time);
        _dkim = new DkimVerifier(dns, options.Dkim, options.Time);
        _dmarc = new DmarcEvaluator(dns, options.Dmarc);
    }

    /// <param name="message">the whole message with CRLF line ends</param>
    /// <param name="mailFrom">the MAIL FROM address, with or without angle brackets; "" or "&lt;&gt;" for the null sender</param>
    public async Task<InboundOutcome> EvaluateAsync(ReadOnlyMemory<byte> message, IPAddress clientIp, string helo, string mailFrom,
        CancellationToken ct)
    {
        var spfTask = _spf.CheckMailFromAsync(clientIp, mailFrom, helo, ct);
        var dkimTask = _dkim.VerifyMessageAsync(message, ct);
        var spf = await spfTask;
        var dkim = await dkimTask;

        var headers = RawMessageParser.Parse(message).Headers
            .Select(h => (h.NameString, h.Value.ToArray()));
        var author = AuthorDomain.FromHeaders(headers);
        DmarcResult dmarc;
        if (author.Domain is null)
        {
            // RFC 9989 4.4 needs exactly one author domain; without one DMARC cannot be applied.
            dmarc = new DmarcResult(DmarcResultCode.PermError, "", null, null, null, null, DmarcDisposition.None,
                false, false, false, author.Problem, null);
        }
        else
        {
            dmarc = await _dmarc.EvaluateAsync(author.Domain, dkim.Select(DmarcDkimInput.From).ToList(),
                new DmarcSpfInput(spf.IdentityDomain, spf.Code), ct);
        }
        return new InboundOutcome(spf, dkim, dmarc, author, StripBrackets(mailFrom), helo);
    }

    private static string StripBrackets(string mailFrom)
    {
        var t = mailFrom.Trim();
        return t.StartsWith('<') && t.EndsWith('>') ? t[1..^1] : t;
    }
}

/// <summary>What <see cref="InboundEvaluation"/> found for one message.</summary>
/// <param name="MailFrom">the MAIL FROM address without angle brackets ("" for the null sender)</param>
public sealed record InboundOutcome(
    SpfResult Spf,
    IReadOnlyList<DkimVerificationResult> Dkim,
    DmarcResult Dmarc,
    AuthorDomain Author,
    string MailFrom,
    string Helo)
{
    /// <summary>The clauses of the Authentication-Results header, in the writer's fixed order spf, dkim, dmarc.</summary>
    public IReadOnlyList<AuthMethodResult> AuthResults()
    {
        var list = new List<AuthMethodResult> { SpfClause() };
        list.AddRange(DkimAuthResults.ToClauses(Dkim));
        list.Add(Author.Domain is null
            ? new AuthMethodResult("dmarc", "permerror", Reason: Dmarc.Reason)
            : Dmarc.ToAuthMethodResult());
        return list;
    }

    /// <summary>spf=RESULT smtp.mailfrom=ADDR smtp.helo=NAME (RFC 8601 2.7.2); the reason as a comment for
    /// fail and the error results, as the daemon writes it.</summary>
    private AuthMethodResult SpfClause()
    {
        var properties = new List<AuthResultProperty>(2);
        if (MailFrom.Length > 0) properties.Add(new("smtp", "mailfrom", MailFrom));
        if (Helo.Length is > 0 and <= 255) properties.Add(new("smtp", "helo", Helo));
        var comment = Spf.Code is SpfResultCode.Fail or SpfResultCode.PermError or SpfResultCode.TempError ? Spf.Reason : null;
        return new AuthMethodResult("spf", Spf.Keyword, Comment: comment, Properties: properties);
    }

    private bool AnyTempError => Spf.Code == SpfResultCode.TempError || Dkim.Any(d => d.Result == DkimResult.TempError);

    /// <summary>
    /// 0 when DMARC passes, or when no DMARC record applies and SPF or a DKIM signature passes; 3 when DMARC is
    /// temperror, or when it did not pass and an SPF or DKIM check failed temporarily (that check might have made
    /// it pass); 1 otherwise.
    /// </summary>
    public int ExitCode => Dmarc.Result switch
    {
        DmarcResultCode.Pass => Program.ExitOk,
        DmarcResultCode.TempError => Program.ExitTemporary,
        DmarcResultCode.None when Spf.Code == SpfResultCode.Pass || Dkim.Any(d => d.IsPass) => Program.ExitOk,
        _ when AnyTempError => Program.ExitTemporary,
        _ => Program.ExitCheckFailed,
    };
}
