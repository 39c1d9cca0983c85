namespace Milter.MailAuth.Dkim;

/// <summary>Receives canonical bytes from a canonicalizer.</summary>
public interface ICanonicalOutput
{
    void Write(ReadOnlySpan<byte> bytes);
}

/// <summary>
/// A streaming body canonicalizer (RFC 6376 3.4.3 / 3.4.4). Chunks may have any size; CR and LF may be
/// split across chunks. Only trailing empty lines and whitespace are held back, as counts.
/// </summary>
public interface IBodyCanonicalizer
{
    void Append(ReadOnlySpan<byte> chunk);

    /// <summary>Ends the body; writes the final line terminator if the algorithm needs one.</summary>
    void Complete();
}
