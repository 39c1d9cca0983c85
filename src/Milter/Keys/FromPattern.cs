namespace Milter.Keys;

/// <summary>The From patterns of signing rules (<see cref="Configuration.SigningRuleOptions"/>): case-insensitive
/// wildcards where <c>*</c> matches any run of characters (OpenDKIM's refile: patterns). A pattern with an <c>@</c>,
/// or any pattern of a rule that matches the whole address, is matched against the address; otherwise the domain.</summary>
public static class FromPattern
{
    public static bool Matches(string pattern, bool matchAddress, string? address, string domain)
    {
        var againstAddress = matchAddress || pattern.Contains('@', StringComparison.Ordinal);
        var text = againstAddress ? address : domain;
        return text is not null && Glob(pattern, text);
    }

    /// <summary>Whether a pattern matched against an address can match any address at all (it must allow an '@').</summary>
    public static bool CanMatchAnAddress(string pattern) => pattern.Contains('@', StringComparison.Ordinal) || pattern.Contains('*', StringComparison.Ordinal);

    /// <summary>Wildcard match, the whole text, ASCII case-insensitive; <c>*</c> any run (also empty). Linear backtracking
    /// over the last star only, so a hostile pattern costs O(pattern × text).</summary>
    public static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
