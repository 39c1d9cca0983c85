using System.Text;

namespace Milter.MailAuth.AuthenticationResults;

/// <summary>How a reader of a field value treats comments ("(...)", RFC 5322 section 3.2.2).</summary>
internal enum CommentReading
{
    /// <summary>RFC 5322: comments nest, a backslash quotes the next character; an unterminated comment runs to the end.</summary>
    Rfc5322,
    /// <summary>A simpler reader: the first ")" ends the comment (no nesting, no quoted-pairs).</summary>
    Flat,
    /// <summary>RFC 5322, but an unterminated comment ends at the first line break (a line-oriented reader).</summary>
    UnterminatedEndsAtLineBreak,
    /// <summary>RFC 5322, but the "(" of an unterminated comment is skipped as a stray character.</summary>
    UnterminatedIsSkipped,
}

/// <summary>
/// A forgiving reader of the first value of an Authentication-Results field, for values MimeKit refuses and
/// for the readings other mail software may make of them: skips CFWS (comments read per
/// <see cref="CommentReading"/>; whitespace includes every control character and the no-break space), then
/// reads a quoted-string or a run of characters up to whitespace, ";", "(", ")" or "=". An ARC-style
/// <c>i=N;</c> prefix is skipped. A first value followed by "=" is a method (no authserv-id) unless it holds
/// a dot: methods are Keywords without dots, so a dotted first value is a (malformed) authserv-id.
/// </summary>
internal static class TolerantAuthservIdReader
{
    public static readonly CommentReading[] AllReadings =
        [CommentReading.Rfc5322, CommentReading.Flat, CommentReading.UnterminatedEndsAtLineBreak, CommentReading.UnterminatedIsSkipped];

    public static string? Read(string value, CommentReading comments = CommentReading.Rfc5322)
    {
        int i = SkipCfws(value, 0, comments);
        string? first = ReadValue(value, ref i);
        if (first is null)
            return null;
        i = SkipCfws(value, i, comments);
        if (i < value.Length && value[i] == '=' && !first.Contains('.', StringComparison.Ordinal))
        {
            if (!string.Equals(first, "i", StringComparison.OrdinalIgnoreCase))
                return null;
            int semicolon = value.IndexOf(';', i);
            if (semicolon < 0)
                return null;
            i = SkipCfws(value, semicolon + 1, comments);
            first = ReadValue(value, ref i);
            if (first is null)
                return null;
            i = SkipCfws(value, i, comments);
            if (i < value.Length && value[i] == '=' && !first.Contains('.', StringComparison.Ordinal))
                return null;
        }
        return first;
    }

    /// <summary>
    /// Whether two authserv-ids name the same service as receivers compare them: case-insensitively (host names,
    /// RFC 8601 2.5 and RFC 4343), without surrounding whitespace, and without a trailing root dot
    /// (<c>mx.example.net.</c> is the fully qualified form of <c>mx.example.net</c>, RFC 1034 3.1).
    /// </summary>
    public static bool SameId(string? candidate, string ours)
    {
        if (candidate is null)
            return false;
        return Normalize(candidate).Equals(Normalize(ours), StringComparison.OrdinalIgnoreCase);
    }

    private static ReadOnlySpan<char> Normalize(string id)
    {
        var span = id.AsSpan();
        int start = 0, end = span.Length;
        while (start < end && IsWhiteSpace(span[start]))
            start++;
        while (end > start && (IsWhiteSpace(span[end - 1]) || span[end - 1] == '.'))
            end--;
        return span[start..end];
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
        while (i < s.Length && !IsWhiteSpace(s[i]) && s[i] is not (';' or '(' or ')' or '='))
            i++;
        return i == start ? null : s[start..i];
    }

    /// <summary>Skips whitespace (folds included) and comments, read as <paramref name="comments"/> says.</summary>
    internal static int SkipCfws(string s, int i, CommentReading comments = CommentReading.Rfc5322)
    {
        // The readings that go on after an unclosed "(" (skipped, or ended at the line break) would otherwise scan the
        // rest of the value again for each one, quadratic in the value: the ends of all comments come from one pass.
        CommentEnds? ends = null;
        while (i < s.Length)
        {
            if (IsWhiteSpace(s[i]))
            {
                i++;
                continue;
            }
            if (s[i] != '(')
                return i;
            if (comments is CommentReading.UnterminatedIsSkipped or CommentReading.UnterminatedEndsAtLineBreak)
            {
                ends ??= new CommentEnds(s, i);
                i = ends.After(i) ?? UnterminatedEnd(s, i, comments);
            }
            else
            {
                i = SkipComment(s, i, comments);
            }
        }
        return Math.Min(i, s.Length);
    }

    /// <summary>The index after the comment opening at <paramref name="open"/>.</summary>
    private static int SkipComment(string s, int open, CommentReading comments)
    {
        if (comments == CommentReading.Flat)
        {
            int close = s.IndexOf(')', open + 1);
            return close < 0 ? s.Length : close + 1;
        }
        int depth = 0;
        for (int i = open; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\\')
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')' && --depth == 0)
                return i + 1;
        }
        return UnterminatedEnd(s, open, comments);
    }

    /// <summary>Where an unterminated comment opening at <paramref name="open"/> ends under each reading.</summary>
    private static int UnterminatedEnd(string s, int open, CommentReading comments)
    {
        switch (comments)
        {
            case CommentReading.UnterminatedEndsAtLineBreak:
                int lineBreak = s.IndexOfAny(['\r', '\n'], open + 1);
                return lineBreak < 0 ? s.Length : lineBreak;
            case CommentReading.UnterminatedIsSkipped:
                return open + 1;
            default:
                return s.Length; // RFC 5322: the rest of the value is comment
        }
    }

    /// <summary>
    /// Where each comment opening at or after a start ends, found in one pass (nesting and quoted-pairs as in
    /// <see cref="SkipComment"/>: the "(" at a position closes at the first ")" where the depth counted from it
    /// returns to zero, which is the ")" a stack of open positions pairs with it).
    /// </summary>
    private sealed class CommentEnds
    {
        private readonly int _start;
        private readonly int[] _after;

        public CommentEnds(string s, int start)
        {
            _start = start;
            _after = new int[s.Length - start];
            var open = new Stack<int>();
            for (int i = start; i < s.Length; i++)
            {
                char c = s[i];
                if (c == '\\')
                    i++;
                else if (c == '(')
                    open.Push(i);
                else if (c == ')' && open.TryPop(out var o))
                    _after[o - start] = i + 1;
            }
        }

        /// <summary>The index after the comment opening at <paramref name="open"/>; null when it is never closed.</summary>
        public int? After(int open) => _after[open - _start] is > 0 and var end ? end : null;
    }

    /// <summary>Whitespace as the most lenient reader sees it: every control character, space and no-break space.</summary>
    private static bool IsWhiteSpace(char c) => c <= ' ' || c == '\u007f' || char.IsWhiteSpace(c);
}
