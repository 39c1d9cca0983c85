using System.Buffers;

namespace Milter.MailAuth.AuthenticationResults;

/// <summary>
/// Character classes of the RFC 8601 section 2.2 grammar and the RFCs it imports:
/// <c>value = token / quoted-string</c> (RFC 2045 section 5.1), <c>Keyword = ldh-str</c> (RFC 5321),
/// <c>local-part</c>/<c>dot-atom</c> (RFC 5322 section 3.2.3) and <c>domain-name</c> (RFC 6376 section 3.5).
/// </summary>
internal static class AuthResGrammar
{
    /// <summary>RFC 2045 tspecials.</summary>
    private static readonly SearchValues<char> TSpecials = SearchValues.Create("()<>@,;:\\\"/[]?=");

    /// <summary>RFC 5322 atext specials (besides ALPHA and DIGIT).</summary>
    private static readonly SearchValues<char> AtextSpecials = SearchValues.Create("!#$%&'*+-/=?^_`{|}~");

    public static bool IsTokenChar(char c) => c > ' ' && c < 0x7F && !TSpecials.Contains(c);

    public static bool IsToken(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty)
            return false;
        foreach (char c in s)
        {
            if (!IsTokenChar(c))
                return false;
        }
        return true;
    }

    private static bool IsLetDig(char c) => char.IsAsciiLetterOrDigit(c);

    /// <summary>RFC 8601 Keyword = ldh-str (RFC 5321): letters, digits and inner hyphens.</summary>
    public static bool IsKeyword(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty || !IsLetDig(s[0]) || !IsLetDig(s[^1]))
            return false;
        foreach (char c in s)
        {
            if (!IsLetDig(c) && c != '-')
                return false;
        }
        return true;
    }

    private static bool IsAtext(char c) => char.IsAsciiLetterOrDigit(c) || AtextSpecials.Contains(c);

    /// <summary>RFC 5322 dot-atom-text: 1*atext *("." 1*atext).</summary>
    public static bool IsDotAtom(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty || s[0] == '.' || s[^1] == '.')
            return false;
        char prev = '\0';
        foreach (char c in s)
        {
            if (c == '.' ? prev == '.' : !IsAtext(c))
                return false;
            prev = c;
        }
        return true;
    }

    /// <summary>RFC 6376 domain-name = sub-domain 1*("." sub-domain); sub-domain as in RFC 5321.</summary>
    public static bool IsDomainName(ReadOnlySpan<char> s)
    {
        int labels = 0;
        while (true)
        {
            int dot = s.IndexOf('.');
            var label = dot < 0 ? s : s[..dot];
            if (!IsKeyword(label))
                return false;
            labels++;
            if (dot < 0)
                return labels >= 2;
            s = s[(dot + 1)..];
        }
    }

    /// <summary>
    /// Whether a pvalue can be written bare: <c>token</c>, or <c>[ [ local-part ] "@" ] domain-name</c>
    /// with a dot-atom local-part (RFC 8601 section 2.2). Anything else is written as a quoted-string.
    /// </summary>
    public static bool IsBarePropertyValue(ReadOnlySpan<char> s)
    {
        if (IsToken(s))
            return true;
        int at = s.LastIndexOf('@');
        if (at < 0)
            return false;
        var local = s[..at];
        return (local.IsEmpty || IsDotAtom(local)) && IsDomainName(s[(at + 1)..]);
    }
}
