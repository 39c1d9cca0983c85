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
        var tracker = new ForgedHeaderTracker(authservId);
        foreach (var (name, value) in headers)
            tracker.Add(name, value);
        return tracker.Occurrences;
    }
}

/// <summary>
/// <see cref="ForgedHeaderFinder"/> fed one field at a time, as a message streams in: each
/// Authentication-Results field is decided on arrival and only its occurrence number is kept, so no field
/// needs to be stored. At most <c>maxForged</c> numbers are kept; past that <see cref="Overflowed"/> is set
/// (the caller cannot remove them all and must not pass the message on as if it had).
/// </summary>
public sealed class ForgedHeaderTracker
{
    private readonly string _authservId;
    private readonly int _maxForged;
    private readonly List<int> _forged = new();

    public ForgedHeaderTracker(string authservId, int maxForged = int.MaxValue)
    {
        ArgumentException.ThrowIfNullOrEmpty(authservId);
        ArgumentOutOfRangeException.ThrowIfNegative(maxForged);
        _authservId = authservId;
        _maxForged = maxForged;
    }

    /// <summary>Authentication-Results fields seen so far.</summary>
    public int Fields { get; private set; }

    /// <summary>More than <c>maxForged</c> fields claimed our id; <see cref="Occurrences"/> holds the first ones only.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Whether a field name is Authentication-Results (case-insensitive, surrounding whitespace ignored),
    /// so a caller can skip decoding the values of other fields.</summary>
    public static bool IsAuthenticationResults(string? name)
        => name is not null && name.AsSpan().Trim().Equals(AuthenticationResultsWriter.HeaderName, StringComparison.OrdinalIgnoreCase);

    /// <summary>Takes the next header field of the message (any name; only Authentication-Results counts).</summary>
    public void Add(string name, string? value)
    {
        if (!IsAuthenticationResults(name))
            return;
        Fields++;
        if (!AuthenticationResultsParser.ClaimsAuthservId(value ?? "", _authservId))
            return;
        if (_forged.Count >= _maxForged)
            Overflowed = true;
        else
            _forged.Add(Fields);
    }

    /// <summary>The occurrence numbers of the fields claiming our id, last first (see <see cref="ForgedHeaderFinder.Find"/>).</summary>
    public IReadOnlyList<int> Occurrences
    {
        get
        {
            var list = new List<int>(_forged);
            list.Reverse();
            return list;
        }
    }
}
