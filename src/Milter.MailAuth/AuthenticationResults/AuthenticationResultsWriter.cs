using System.Text;

namespace Milter.MailAuth.AuthenticationResults;

/// <summary>
/// The one writer of the Authentication-Results header (RFC 8601) for the whole project: DKIM, SPF,
/// DMARC and ARC results all go into the one field it builds.
/// </summary>
/// <remarks>
/// <para>Order of clauses: <c>arc</c>, <c>spf</c>, <c>dkim</c>, <c>dmarc</c>, then any other method;
/// results of one method keep the order the caller gives (DKIM results in signature order).</para>
/// <para>Each clause is written <c>method=result (comment) reason="..." ptype.property=value ...</c>.
/// Method, result, ptype and property must be RFC 8601 Keywords (the caller's vocabulary, so a bad one
/// is a bug and throws <see cref="ArgumentException"/>); comment, reason and property values come from
/// mail and never throw: control characters become spaces, comments are escaped, the reason is always a
/// quoted-string, a property value is written bare only when the grammar allows it.</para>
/// <para>Folding: CRLF + tab before a clause that does not fit on the current line; a clause too long
/// for a line of its own is folded between its elements (never inside a token, comment or quoted-string).
/// No line ends in whitespace. Size is bounded: at most <see cref="MaxResults"/> clauses of at most
/// <see cref="MaxPropertiesPerResult"/> properties; comments and reasons are cut at
/// <see cref="MaxTextLength"/> characters; a property value longer than <see cref="MaxPropertyValueLength"/>
/// is left out.</para>
/// </remarks>
public static class AuthenticationResultsWriter
{
    public const string HeaderName = "Authentication-Results";

    /// <summary>Most resinfo clauses one header holds (more is a caller bug).</summary>
    public const int MaxResults = 32;

    /// <summary>Most propspecs one clause holds (more is a caller bug).</summary>
    public const int MaxPropertiesPerResult = 16;

    /// <summary>Longest comment or reason, in characters; longer ones are cut.</summary>
    public const int MaxTextLength = 256;

    /// <summary>Longest property value (a 64-octet local-part, "@", a 255-octet domain); longer ones are left out.</summary>
    public const int MaxPropertyValueLength = 320;

    public const int MinFoldWidth = 40;
    public const int MaxFoldWidth = 998;

    private const string Fold = "\r\n\t";

    private static readonly string[] MethodOrder = ["arc", "spf", "dkim", "dmarc"];

    /// <summary>
    /// Builds the header value (without the name and colon), starting with a space, folded with
    /// CRLF + tab so no line (the first counted with <c>Authentication-Results:</c>) exceeds
    /// <paramref name="foldWidth"/> unless one element alone is longer. No results gives <c>none</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The authserv-id is not an RFC 2045 token, a method, result,
    /// ptype or property is not a Keyword, or there are too many results or properties.</exception>
    public static string Format(string authservId, IEnumerable<AuthMethodResult> results, int foldWidth = 78)
    {
        ArgumentNullException.ThrowIfNull(authservId);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentOutOfRangeException.ThrowIfLessThan(foldWidth, MinFoldWidth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(foldWidth, MaxFoldWidth);
        ValidateAuthservId(authservId);

        var ordered = Order(results);
        var sb = new StringBuilder(64 + (ordered.Count * 96));
        sb.Append(' ').Append(authservId);
        int lineLength = HeaderName.Length + 1 + sb.Length;

        if (ordered.Count == 0)
        {
            sb.Append(';');
            AppendPiece(sb, "none", ref lineLength, foldWidth);
            return sb.ToString();
        }

        var clause = new StringBuilder(128);
        var pieceEnds = new List<int>(8);
        foreach (var result in ordered)
        {
            sb.Append(';');
            lineLength++;
            BuildClause(result, clause, pieceEnds);
            AppendClause(sb, clause, pieceEnds, ref lineLength, foldWidth);
        }
        return sb.ToString();
    }

    /// <summary>Longest authserv-id written: RFC 8601 section 2.5 wants a domain name, and a name is at most 255
    /// octets (RFC 1035 section 2.3.4).</summary>
    public const int MaxAuthservIdLength = 255;

    /// <summary>
    /// Whether <paramref name="authservId"/> can be written as our authserv-id. The one rule, used by this writer and by
    /// the configuration check, so a value start-up accepts is never refused per message.
    /// </summary>
    public static bool IsValidAuthservId(string? authservId)
        // authserv-id = value (RFC 8601 section 2.2); we accept the token form only (a host name, RFC 2045 token).
        => authservId is { Length: <= MaxAuthservIdLength } && AuthResGrammar.IsToken(authservId);

    /// <summary>What an authserv-id must be, for error messages: the rule of <see cref="IsValidAuthservId"/> in words.</summary>
    public const string AuthservIdRule =
        "it must be a host name or other RFC 2045 token of at most 255 characters (no spaces, controls, non-ASCII or any of ()<>@,;:\\\"/[]?=)";

    /// <summary>Throws unless <paramref name="authservId"/> can be written as an RFC 8601 authserv-id (<see cref="IsValidAuthservId"/>).</summary>
    public static void ValidateAuthservId(string authservId)
    {
        ArgumentNullException.ThrowIfNull(authservId);
        if (!IsValidAuthservId(authservId))
            throw new ArgumentException($"authserv-id '{authservId}' is not valid: {AuthservIdRule}.", nameof(authservId));
    }

    private static List<AuthMethodResult> Order(IEnumerable<AuthMethodResult> results)
    {
        var list = new List<AuthMethodResult>();
        foreach (var r in results)
        {
            ArgumentNullException.ThrowIfNull(r, nameof(results));
            if (list.Count == MaxResults)
                throw new ArgumentException($"More than {MaxResults} authentication results.", nameof(results));
            list.Add(r);
        }
        // Stable: List.Sort is not, so sort indices by (rank, original position).
        var keys = new (int Rank, int Position)[list.Count];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = (Rank(list[i].Method), i);
        var items = list.ToArray();
        Array.Sort(keys, items);
        return [.. items];
    }

    private static int Rank(string method)
    {
        for (int i = 0; i < MethodOrder.Length; i++)
        {
            if (string.Equals(method, MethodOrder[i], StringComparison.OrdinalIgnoreCase))
                return i;
        }
        return MethodOrder.Length;
    }

    /// <summary>Writes one clause into <paramref name="clause"/>, elements separated by one space; records where each ends.</summary>
    private static void BuildClause(AuthMethodResult r, StringBuilder clause, List<int> pieceEnds)
    {
        clause.Clear();
        pieceEnds.Clear();

        AppendKeyword(clause, r.Method, "method");
        if (r.MethodVersion is int version)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(version, nameof(r));
            clause.Append('/').Append(version);
        }
        clause.Append('=');
        AppendKeyword(clause, r.Result, "result");
        pieceEnds.Add(clause.Length);

        if (r.Comment is not null)
        {
            clause.Append(" (");
            AppendCommentText(clause, r.Comment);
            clause.Append(')');
            pieceEnds.Add(clause.Length);
        }

        if (r.Reason is not null)
        {
            // reasonspec = "reason" [CFWS] "=" [CFWS] value; always the quoted-string form.
            clause.Append(" reason=");
            AppendQuoted(clause, Cut(r.Reason));
            pieceEnds.Add(clause.Length);
        }

        var properties = r.Properties;
        if (properties is null)
            return;
        if (properties.Count > MaxPropertiesPerResult)
            throw new ArgumentException($"More than {MaxPropertiesPerResult} properties for method '{r.Method}'.", nameof(r));
        foreach (var p in properties)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(r));
            ArgumentNullException.ThrowIfNull(p.Value, nameof(r));
            if (p.Value.Length > MaxPropertyValueLength)
                continue;
            clause.Append(' ');
            AppendKeyword(clause, p.Type, "ptype");
            clause.Append('.');
            AppendKeyword(clause, p.Name, "property");
            clause.Append('=');
            if (AuthResGrammar.IsBarePropertyValue(p.Value))
                clause.Append(p.Value);
            else
                AppendQuoted(clause, p.Value);
            pieceEnds.Add(clause.Length);
        }
    }

    private static void AppendClause(StringBuilder sb, StringBuilder clause, List<int> pieceEnds, ref int lineLength, int width)
    {
        if (lineLength + 1 + clause.Length <= width)
        {
            sb.Append(' ').Append(clause);
            lineLength += 1 + clause.Length;
            return;
        }

        sb.Append(Fold);
        lineLength = 1;
        int start = 0;
        for (int i = 0; i < pieceEnds.Count; i++)
        {
            // Every piece after the first starts with its separating space; drop it on a fold.
            int pieceStart = i == 0 ? 0 : start + 1;
            int length = pieceEnds[i] - pieceStart;
            if (i > 0)
            {
                if (lineLength + 1 + length <= width)
                {
                    sb.Append(' ');
                    lineLength++;
                }
                else
                {
                    sb.Append(Fold);
                    lineLength = 1;
                }
            }
            sb.Append(clause, pieceStart, length);
            lineLength += length;
            start = pieceEnds[i];
        }
    }

    private static void AppendPiece(StringBuilder sb, string piece, ref int lineLength, int width)
    {
        if (lineLength + 1 + piece.Length <= width)
        {
            sb.Append(' ');
            lineLength++;
        }
        else
        {
            sb.Append(Fold);
            lineLength = 1;
        }
        sb.Append(piece);
        lineLength += piece.Length;
    }

    private static void AppendKeyword(StringBuilder sb, string? keyword, string what)
    {
        if (keyword is null || !AuthResGrammar.IsKeyword(keyword))
            throw new ArgumentException($"Authentication-Results {what} '{keyword}' is not an RFC 8601 Keyword (letters, digits, inner hyphens).");
        foreach (char c in keyword)
            sb.Append(char.ToLowerInvariant(c));
    }

    /// <summary>ctext with "(", ")" and "\" as quoted-pairs (RFC 5322 section 3.2.2); controls become spaces.</summary>
    private static void AppendCommentText(StringBuilder sb, string text)
    {
        foreach (char c in Cut(text))
        {
            if (c is '(' or ')' or '\\')
                sb.Append('\\').Append(c);
            else
                sb.Append(IsControl(c) ? ' ' : c);
        }
    }

    /// <summary>A quoted-string (RFC 5322 section 3.2.4): "\"" and "\" escaped, controls become spaces.</summary>
    private static void AppendQuoted(StringBuilder sb, ReadOnlySpan<char> text)
    {
        sb.Append('"');
        foreach (char c in text)
        {
            if (c is '"' or '\\')
                sb.Append('\\').Append(c);
            else
                sb.Append(IsControl(c) ? ' ' : c);
        }
        sb.Append('"');
    }

    /// <summary>The first <see cref="MaxTextLength"/> characters, not splitting a surrogate pair.</summary>
    private static ReadOnlySpan<char> Cut(string text)
    {
        if (text.Length <= MaxTextLength)
            return text;
        int length = char.IsHighSurrogate(text[MaxTextLength - 1]) ? MaxTextLength - 1 : MaxTextLength;
        return text.AsSpan(0, length);
    }

    private static bool IsControl(char c) => c < ' ' || c == 0x7F || char.IsControl(c);
}
