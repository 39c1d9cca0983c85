using System.Text;
using MimeAuthenticationResults = MimeKit.Cryptography.AuthenticationResults;

namespace Milter.MailAuth.AuthenticationResults;

/// <summary>An Authentication-Results field as parsed (by MimeKit).</summary>
/// <param name="AuthservId">The authserv-id; null for the Office 365 form that has none in front.</param>
/// <param name="Version">The authres-version, when present.</param>
/// <param name="Results">The resinfo clauses in field order (empty for <c>none</c>).</param>
/// <param name="MethodAuthservIds">Authserv-ids Office 365 writes between clauses (non-conformant, but
/// some readers honour them).</param>
public sealed record ParsedAuthenticationResults(
    string? AuthservId,
    int? Version,
    IReadOnlyList<AuthMethodResult> Results,
    IReadOnlyList<string> MethodAuthservIds);

/// <summary>
/// Reads Authentication-Results fields, mainly to find the ones that claim our authserv-id so they can
/// be removed (RFC 8601 section 5: a forgery of our own results must not reach the reader).
/// </summary>
public static class AuthenticationResultsParser
{
    /// <summary>Parses a field value with MimeKit's parser; false when it refuses the value.</summary>
    public static bool TryParse(string headerValue, out ParsedAuthenticationResults? parsed)
    {
        parsed = null;
        if (headerValue is null)
            return false;
        var bytes = Encoding.UTF8.GetBytes(headerValue);
        if (!MimeAuthenticationResults.TryParse(bytes, out var mime) || mime is null)
            return false;

        var results = new List<AuthMethodResult>(mime.Results.Count);
        var methodIds = new List<string>();
        foreach (var r in mime.Results)
        {
            var properties = new List<AuthResultProperty>(r.Properties.Count);
            foreach (var p in r.Properties)
                properties.Add(new AuthResultProperty(p.PropertyType, p.Property, p.Value));
            results.Add(new AuthMethodResult(r.Method, r.Result ?? "", r.Reason, properties, r.ResultComment, r.Version));
            if (!string.IsNullOrEmpty(r.Office365AuthenticationServiceIdentifier))
                methodIds.Add(r.Office365AuthenticationServiceIdentifier);
        }
        parsed = new ParsedAuthenticationResults(mime.AuthenticationServiceIdentifier, mime.Version, results, methodIds);
        return true;
    }

    /// <summary>
    /// The authserv-id a field value starts with. MimeKit's parser first; when it refuses the value, a
    /// tolerant read of the first value after any comments and whitespace, so a malformed forgery that
    /// starts with our id is still recognised.
    /// </summary>
    public static bool TryGetAuthservId(string headerValue, out string? authservId)
    {
        authservId = null;
        if (headerValue is null)
            return false;
        if (TryParse(headerValue, out var parsed))
        {
            authservId = parsed!.AuthservId;
            return !string.IsNullOrEmpty(authservId);
        }
        authservId = TolerantAuthservIdReader.Read(headerValue);
        return authservId is not null;
    }

    /// <summary>
    /// Whether the field claims to come from <paramref name="authservId"/>, as any common reader would take it:
    /// its leading authserv-id as MimeKit parses it, or one of the per-clause ids of the Office 365 form, or the
    /// first value under each tolerant reading (<see cref="CommentReading"/>: nested or flat comments, an
    /// unterminated comment ended at the line break or skipped). Ids compare case-insensitively and without a
    /// trailing root dot (<see cref="TolerantAuthservIdReader.SameId"/>). RFC 8601 section 5: a forgery of our
    /// own results must not reach the reader, so any reading that makes the field ours makes it ours.
    /// </summary>
    public static bool ClaimsAuthservId(string headerValue, string authservId)
    {
        ArgumentNullException.ThrowIfNull(authservId);
        if (headerValue is null)
            return false;
        if (TryParse(headerValue, out var parsed))
        {
            if (TolerantAuthservIdReader.SameId(parsed!.AuthservId, authservId))
                return true;
            foreach (var id in parsed.MethodAuthservIds)
            {
                if (TolerantAuthservIdReader.SameId(id, authservId))
                    return true;
            }
        }
        foreach (var reading in TolerantAuthservIdReader.AllReadings)
        {
            if (TolerantAuthservIdReader.SameId(TolerantAuthservIdReader.Read(headerValue, reading), authservId))
                return true;
        }
        return false;
    }
}
