using System.Text;

namespace Milter.MailAuth.Spf;

/// <summary>Where a macro-string appears; decides which macro letters and characters it may hold (RFC 7208 7.1).</summary>
internal enum MacroScope
{
    /// <summary>domain-spec of a mechanism, redirect= or exp=: letters s l o d i p v h.</summary>
    Domain,
    /// <summary>explanation-string (the exp TXT record): also c r t, and spaces.</summary>
    Explanation,
    /// <summary>value of an unknown modifier: any macro letter (never expanded).</summary>
    UnknownModifier,
}

/// <summary>Values the macros expand to (RFC 7208 7.3).</summary>
internal sealed record MacroValues(
    string Sender, string LocalPart, string SenderDomain, string Domain, string DottedIp, string ReadableIp,
    bool IsIpv6, string Helo, string Receiver, long Timestamp, string? ValidatedName);

/// <summary>A parsed macro-string: literal runs and macro-expands (RFC 7208 7.1).</summary>
internal sealed class MacroString
{
    private const int MaxExpansion = 8192;
    private const string Delimiters = ".-+,/_=";

    private readonly Token[] _tokens;

    private readonly record struct Token(string? Literal, char Letter, bool Escape, int Parts, bool Reverse, string? Delims);

    private MacroString(Token[] tokens, string text)
    {
        _tokens = tokens;
        Text = text;
    }

    public string Text { get; }

    /// <summary>True when expansion needs the validated domain name of the client (%{p}).</summary>
    public bool UsesValidatedName => _tokens.Any(t => t.Literal is null && t.Letter == 'p');

    /// <summary>Parses <paramref name="text"/>; returns null on success or the syntax error.</summary>
    public static string? TryParse(string text, MacroScope scope, out MacroString? result)
    {
        result = null;
        var tokens = new List<Token>();
        var literal = new StringBuilder();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == ' ' && scope == MacroScope.Explanation)
            {
                literal.Append(c);
                i++;
                continue;
            }
            if (c is < '!' or > '~')
                return $"character 0x{(int)c:X2} not allowed at position {i}";
            if (c != '%')
            {
                literal.Append(c);
                i++;
                continue;
            }
            if (i + 1 >= text.Length)
                return "'%' at the end";
            char next = text[i + 1];
            switch (next)
            {
                case '%': literal.Append('%'); i += 2; continue;
                case '_': literal.Append(' '); i += 2; continue;
                case '-': literal.Append("%20"); i += 2; continue;
                case '{': break;
                default: return $"'%{next}' is not a macro (RFC 7208 7.1)";
            }
            int close = text.IndexOf('}', i + 2);
            if (close < 0)
                return "'%{' without '}'";
            var error = ParseExpand(text.AsSpan(i + 2, close - i - 2), scope, out var token);
            if (error is not null)
                return error;
            if (literal.Length > 0)
            {
                tokens.Add(new Token(literal.ToString(), '\0', false, 0, false, null));
                literal.Clear();
            }
            tokens.Add(token);
            i = close + 1;
        }
        if (literal.Length > 0)
            tokens.Add(new Token(literal.ToString(), '\0', false, 0, false, null));
        result = new MacroString(tokens.ToArray(), text);
        return null;
    }

    /// <summary>Parses a domain-spec: a macro-string ending in a macro-expand or in "." toplabel ["."] (RFC 7208 7.1).</summary>
    public static string? TryParseDomainSpec(string text, out MacroString? result)
    {
        result = null;
        if (text.Length == 0)
            return "empty domain-spec";
        var error = TryParse(text, MacroScope.Domain, out var parsed);
        if (error is not null)
            return error;
        // domain-end = ( "." toplabel [ "." ] ) / macro-expand; the ABNF counts "%%", "%_", "%-" as macro-expand.
        if (EndsWithMacroExpand(text))
        {
            result = parsed;
            return null;
        }
        var end = text.AsSpan(LastMacroEnd(text));
        if (end.Length > 0 && end[^1] == '.')
            end = end[..^1];
        int dot = end.LastIndexOf('.');
        if (dot < 0)
            return $"domain-spec \"{text}\" does not end in '.' toplabel or a macro";
        if (!SpfDomain.IsTopLabel(end[(dot + 1)..]))
            return $"domain-spec \"{text}\" has an invalid top label";
        result = parsed;
        return null;
    }

    private static bool EndsWithMacroExpand(string text)
    {
        if (text.EndsWith('}'))
            return LastMacroEnd(text) == text.Length;
        return text.Length >= 2 && text[^2] == '%' && text[^1] is '%' or '_' or '-' && CountTrailingPercents(text, text.Length - 2) % 2 == 1;
    }

    private static int CountTrailingPercents(string text, int last)
    {
        int n = 0;
        while (last - n >= 0 && text[last - n] == '%') n++;
        return n;
    }

    /// <summary>Index just past the last "%{...}" in an already validated macro-string (0 when none).</summary>
    private static int LastMacroEnd(string text)
    {
        int end = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '%' || i + 1 >= text.Length) continue;
            if (text[i + 1] == '{')
            {
                int close = text.IndexOf('}', i + 2);
                end = close + 1;
                i = close;
            }
            else
            {
                i++; // "%%", "%_", "%-"
            }
        }
        return end;
    }

    private static string? ParseExpand(ReadOnlySpan<char> body, MacroScope scope, out Token token)
    {
        token = default;
        if (body.Length == 0)
            return "empty macro '%{}'";
        char letter = body[0];
        char lower = char.ToLowerInvariant(letter);
        bool allowed = lower is 's' or 'l' or 'o' or 'd' or 'i' or 'p' or 'v' or 'h'
                       || (lower is 'c' or 'r' or 't' && scope != MacroScope.Domain);
        if (!allowed)
            return lower is 'c' or 'r' or 't'
                ? $"macro '%{{{letter}}}' is allowed only in explanation text (RFC 7208 7.1)"
                : $"unknown macro letter '{letter}'";
        int i = 1;
        int parts = 0;
        int digitsStart = i;
        while (i < body.Length && char.IsAsciiDigit(body[i]))
        {
            if (i - digitsStart >= 3)
                return "macro transformer number too long";
            parts = parts * 10 + (body[i] - '0');
            i++;
        }
        if (i > digitsStart && parts == 0)
            return "macro transformer number must be at least 1 (RFC 7208 7.3)";
        bool reverse = false;
        if (i < body.Length && body[i] is 'r' or 'R')
        {
            reverse = true;
            i++;
        }
        var delims = body[i..];
        foreach (var d in delims)
        {
            if (!Delimiters.Contains(d, StringComparison.Ordinal))
                return $"invalid macro delimiter '{d}'";
        }
        token = new Token(null, lower, char.IsAsciiLetterUpper(letter), parts, reverse, delims.Length > 0 ? delims.ToString() : null);
        return null;
    }

    /// <summary>Expands the string (RFC 7208 7.3, 7.4); output is capped at 8 KiB.</summary>
    public string Expand(MacroValues values)
    {
        var sb = new StringBuilder();
        foreach (var t in _tokens)
        {
            if (t.Literal is not null)
            {
                sb.Append(t.Literal);
            }
            else
            {
                var value = t.Letter switch
                {
                    's' => values.Sender,
                    'l' => values.LocalPart,
                    'o' => values.SenderDomain,
                    'd' => values.Domain,
                    'i' => values.DottedIp,
                    'p' => values.ValidatedName ?? "unknown",
                    'v' => values.IsIpv6 ? "ip6" : "in-addr",
                    'h' => values.Helo,
                    'c' => values.ReadableIp,
                    'r' => values.Receiver,
                    't' => values.Timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => "",
                };
                if (t.Parts > 0 || t.Reverse || t.Delims is not null)
                    value = Transform(value, t.Parts, t.Reverse, t.Delims ?? ".");
                if (t.Escape)
                    value = UrlEscape(value);
                sb.Append(value);
            }
            if (sb.Length > MaxExpansion)
            {
                sb.Length = MaxExpansion;
                break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Split on the delimiters, optionally reverse, keep the rightmost parts, join with '.' (RFC 7208 7.3).</summary>
    private static string Transform(string value, int parts, bool reverse, string delims)
    {
        var pieces = value.Split(delims.ToCharArray());
        if (reverse)
            Array.Reverse(pieces);
        int skip = parts > 0 && parts < pieces.Length ? pieces.Length - parts : 0;
        return string.Join('.', pieces, skip, pieces.Length - skip);
    }

    /// <summary>URL-escapes every character outside the RFC 3986 unreserved set (RFC 7208 7.3, upper-case macros).</summary>
    private static string UrlEscape(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            char c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~')
                sb.Append(c);
            else
                sb.Append('%').Append(((int)b).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
