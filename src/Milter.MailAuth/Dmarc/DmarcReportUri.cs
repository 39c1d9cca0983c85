namespace Milter.MailAuth.Dmarc;

/// <summary>
/// One URI of a rua or ruf tag. The RFC 7489 size suffix ("!10m") is accepted and ignored (obsolete in RFC 9989).
/// <see cref="MailAddress"/> is set for a mailto: URI holding an addr-spec (percent-decoded); other schemes are kept
/// but a reporter ignores them.
/// </summary>
public sealed record DmarcReportUri(string Uri, string Scheme, string? MailAddress)
{
    /// <summary>Parses one URI (surrounding whitespace already removed). False when it is not a syntactically valid
    /// absolute URI (RFC 3986 scheme ":" followed by something, no spaces or controls) or has a bad size suffix.</summary>
    internal static bool TryParse(ReadOnlySpan<char> text, out DmarcReportUri? uri)
    {
        uri = null;
        int bang = text.IndexOf('!');
        if (bang >= 0)
        {
            // RFC 7489 6.3: "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]; RFC 9989 requires a literal "!" to be %-encoded.
            var size = text[(bang + 1)..];
            if (size.Length > 0 && size[^1] is 'k' or 'm' or 'g' or 't' or 'K' or 'M' or 'G' or 'T')
                size = size[..^1];
            if (size.IsEmpty || size.Length > 20 || size.ContainsAnyExceptInRange('0', '9'))
                return false;
            text = text[..bang];
        }
        int colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1 || !char.IsAsciiLetter(text[0]))
            return false;
        var scheme = text[..colon];
        foreach (var c in scheme)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '+' and not '-' and not '.')
                return false;
        }
        foreach (var c in text)
        {
            if (c <= ' ' || c >= 0x7F)
                return false;
        }
        string schemeText = scheme.ToString().ToLowerInvariant();
        string? address = null;
        if (schemeText == "mailto")
            address = MailtoAddress(text[(colon + 1)..]);
        uri = new DmarcReportUri(text.ToString(), schemeText, address);
        return true;
    }

    /// <summary>The addr-spec of a mailto: URI (RFC 6068): up to "?", percent-decoded, one "@" with both sides set.</summary>
    private static string? MailtoAddress(ReadOnlySpan<char> rest)
    {
        int query = rest.IndexOf('?');
        if (query >= 0)
            rest = rest[..query];
        string decoded = System.Uri.UnescapeDataString(rest.ToString());
        int at = decoded.LastIndexOf('@');
        if (at <= 0 || at == decoded.Length - 1 || decoded.Contains(',') || decoded.Contains('/'))
            return null;
        return DmarcDomain.Normalize(decoded[(at + 1)..]) is { } domain ? decoded[..at] + "@" + domain : null;
    }
}
