using System.Text;

namespace Milter.MailAuth.AuthenticationResults;

/// <summary>
/// A forgiving reader of the first value of an Authentication-Results field, for values MimeKit refuses:
/// skips CFWS (nested comments, quoted-pairs, an unterminated comment ends the value), then reads a
/// quoted-string or a run of characters up to whitespace, ";", "(" or "=". An ARC-style <c>i=N;</c>
/// prefix is skipped. A first value followed by "=" is a method (no authserv-id) unless it holds a dot:
/// methods are Keywords without dots, so a dotted first value is a (malformed) authserv-id.
/// </summary>
internal static class TolerantAuthservIdReader
{
    public static string? Read(string value)
    {
        int i = SkipCfws(value, 0);
        string? first = ReadValue(value, ref i);
        if (first is null)
            return null;
        i = SkipCfws(value, i);
        if (i < value.Length && value[i] == '=' && !first.Contains('.', StringComparison.Ordinal))
        {
            if (!string.Equals(first, "i", StringComparison.OrdinalIgnoreCase))
                return null;
            int semicolon = value.IndexOf(';', i);
            if (semicolon < 0)
                return null;
            i = SkipCfws(value, semicolon + 1);
            first = ReadValue(value, ref i);
            if (first is null)
                return null;
            i = SkipCfws(value, i);
            if (i < value.Length && value[i] == '=' && !first.Contains('.', StringComparison.Ordinal))
                return null;
        }
        return first;
    }

    private static string? ReadValue(string s, ref int i)
    {
        if (i >= s.Length)
            return null;
        if (s[i] == '"')
        {
            var sb = new StringBuilder();
            for (i++; i < s.Length && s[i] != '"'; i++)
            {
                if (s[i] == '\\' && i + 1 < s.Length)
                    i++;
                if (s[i] is not ('\r' or '\n'))
                    sb.Append(s[i]);
            }
            i = Math.Min(i + 1, s.Length);
            return sb.Length == 0 ? null : sb.ToString();
        }
        int start = i;
        while (i < s.Length && !IsWhiteSpace(s[i]) && s[i] is not (';' or '(' or '='))
            i++;
        return i == start ? null : s[start..i];
    }

    /// <summary>Skips whitespace (folds included) and comments, which nest (RFC 5322 section 3.2.2).</summary>
    internal static int SkipCfws(string s, int i)
    {
        while (i < s.Length)
        {
            if (IsWhiteSpace(s[i]))
            {
                i++;
                continue;
            }
            if (s[i] != '(')
                return i;
            int depth = 0;
            for (; i < s.Length; i++)
            {
                char c = s[i];
                if (c == '\\')
                    i++;
                else if (c == '(')
                    depth++;
                else if (c == ')' && --depth == 0)
                {
                    i++;
                    break;
                }
            }
        }
        return Math.Min(i, s.Length);
    }

    private static bool IsWhiteSpace(char c) => c is ' ' or '\t' or '\r' or '\n';
}
