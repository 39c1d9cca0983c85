using System.Globalization;
using Milter.MailAuth.Arc;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Inbound;

/// <summary>The Authentication-Results clauses (RFC 8601) of the inbound checks: the one place they are worded.</summary>
public static class InboundClauses
{
    /// <summary>
    /// spf=RESULT smtp.mailfrom=ADDR smtp.helo=NAME (RFC 8601 2.7.2: the smtp ptype reports the SMTP parameters the
    /// check used). For the null sender RFC 7208 2.4 checks postmaster@HELO; the MAIL FROM parameter was empty, so
    /// only smtp.helo is written (the identity's domain). A HELO longer than a domain name (255) is left out. The
    /// reason is a comment for fail and the error results.
    /// </summary>
    public static AuthMethodResult Spf(SpfResult spf, SmtpEnvelope envelope)
    {
        var properties = new List<AuthResultProperty>(2);
        var mailFrom = envelope.MailFromAddress;
        if (mailFrom.Length > 0) properties.Add(new("smtp", "mailfrom", mailFrom));
        if (envelope.Helo is { Length: > 0 and <= 255 } helo) properties.Add(new("smtp", "helo", helo));
        var comment = spf.Code is SpfResultCode.Fail or SpfResultCode.PermError or SpfResultCode.TempError ? spf.Reason : null;
        return new AuthMethodResult("spf", spf.Keyword, Comment: comment, Properties: properties);
    }

    /// <summary>One dkim clause per signature (RFC 8601 2.7.1; header.b per RFC 6008); none at all gives
    /// "dkim=none" (the message was not signed).</summary>
    public static IReadOnlyList<AuthMethodResult> Dkim(IReadOnlyList<DkimVerificationResult> results)
    {
        if (results.Count == 0) return [new AuthMethodResult("dkim", "none")];
        return results.Select(DkimClause).ToList();
    }

    private static AuthMethodResult DkimClause(DkimVerificationResult r)
    {
        var properties = new List<AuthResultProperty>(5);
        if (r.Domain.Length > 0) properties.Add(new("header", "d", r.Domain));
        if (r.HeaderI.Length > 1) properties.Add(new("header", "i", r.HeaderI));
        if (r.Selector.Length > 0) properties.Add(new("header", "s", r.Selector));
        if (r.Algorithm.Length > 0) properties.Add(new("header", "a", r.Algorithm));
        if (r.HeaderB.Length > 0) properties.Add(AuthResultProperty.HeaderB(r.HeaderB));
        return new AuthMethodResult("dkim", r.ResultKeyword, r.IsPass ? null : r.Reason, properties);
    }

    /// <summary>The dmarc clause. Without exactly one author domain DMARC cannot be applied (RFC 9989 4.4 and
    /// RFC 7489 6.6.1 need one RFC5322.From domain; what to do with such mail is left to the receiver): that is
    /// written dmarc=permerror with the problem as the reason (RFC 8601 2.7.1: a permanent error in evaluation).</summary>
    public static AuthMethodResult Dmarc(DmarcResult dmarc, AuthorDomain author)
        => author.Status == AuthorStatus.Ok
            ? dmarc.ToAuthMethodResult()
            : new AuthMethodResult("dmarc", "permerror", Reason: author.Problem);

    /// <summary>
    /// arc=RESULT (i=N sealers d1,d2) smtp.remote-ip=IP header.oldest-pass=N (RFC 8617 6 and 10.2: the client address
    /// and, for a passing chain, the instance of the oldest AMS that still validates, 0 when all do). A failure
    /// gives its reason. Written only for a message that carries ARC fields (arc=none is left out, RFC 8601 2.7).
    /// </summary>
    public static AuthMethodResult Arc(ArcChainResult arc, SmtpEnvelope envelope)
    {
        var properties = new List<AuthResultProperty>(2);
        if (envelope.ClientAddress is { } ip) properties.Add(new("smtp", "remote-ip", ip.ToString()));
        if (arc.Result == ArcResult.Pass)
        {
            properties.Add(new("header", "oldest-pass", arc.OldestPass.ToString(CultureInfo.InvariantCulture)));
            var comment = $"i={arc.Instances} sealers {string.Join(',', arc.Sealers)}";
            return new AuthMethodResult("arc", arc.Keyword, Properties: properties, Comment: comment);
        }
        return new AuthMethodResult("arc", arc.Keyword, arc.Reason, properties);
    }
}
