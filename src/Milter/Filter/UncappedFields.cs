using System.Text;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Message;

namespace Milter.Filter;

/// <summary>
/// What the filter must know of every header field of a message, however many there are and however large
/// (the stored copy in <see cref="MessageState.Headers"/> is capped): each Authentication-Results field is decided
/// forged or not on arrival and only its occurrence number kept (at most <see cref="AuthFilter.MaxForgedAuthResults"/>);
/// From fields are counted and the first one kept, enough for <see cref="AuthorDomain"/> (RFC 5322 3.6: exactly one).
/// </summary>
internal sealed class UncappedFields
{
    private readonly ForgedHeaderTracker _forged;
    private int _fromCount;
    private byte[]? _firstFrom;

    public UncappedFields(string authservId) => _forged = new ForgedHeaderTracker(authservId, AuthFilter.MaxForgedAuthResults);

    /// <summary>Takes the next field: name and raw value with CRLF folds.</summary>
    public void Add(string name, byte[] value)
    {
        if (AuthorDomain.IsFromField(name))
        {
            _fromCount++;
            _firstFrom ??= value;
        }
        else if (ForgedHeaderTracker.IsAuthenticationResults(name))
        {
            _forged.Add(name, Encoding.Latin1.GetString(value));
        }
    }

    /// <summary>Occurrence numbers (among Authentication-Results fields) of the forged ones, last first.</summary>
    public IReadOnlyList<int> Forged => _forged.Occurrences;

    /// <summary>More forged Authentication-Results fields than can be tracked: they cannot all be removed.</summary>
    public bool ForgedOverflow => _forged.Overflowed;

    public AuthorDomain Author() => AuthorDomain.FromFields(_fromCount, _firstFrom);
}
