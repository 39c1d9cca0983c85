namespace Milter.MailAuth.AuthenticationResults;

/// <summary>
/// Finds the Authentication-Results fields of a message that claim our authserv-id, which must be
/// removed before ours is added (RFC 8601 section 5).
/// </summary>
public static class ForgedHeaderFinder
{
    /// <summary>
    /// The 1-based occurrence indices (among fields named Authentication-Results, name compared
    /// case-insensitively) of the fields claiming <paramref name="authservId"/>, LAST FIRST: Postfix
    /// renumbers the remaining occurrences after each delete, so deleting from the end keeps the rest valid.
    /// </summary>
    /// <param name="headers">The message's header fields in order: name and raw value (folds allowed).</param>
    /// <param name="authservId">Our authserv-id.</param>
    public static IReadOnlyList<int> Find(IEnumerable<(string Name, string Value)> headers, string authservId)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentException.ThrowIfNullOrEmpty(authservId);
        var found = new List<int>();
        int occurrence = 0;
        foreach (var (name, value) in headers)
        {
            if (name is null || !name.AsSpan().Trim().Equals(AuthenticationResultsWriter.HeaderName, StringComparison.OrdinalIgnoreCase))
                continue;
            occurrence++;
            if (AuthenticationResultsParser.ClaimsAuthservId(value ?? "", authservId))
                found.Add(occurrence);
        }
        found.Reverse();
        return found;
    }
}
