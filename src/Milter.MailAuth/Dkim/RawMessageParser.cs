namespace Milter.MailAuth.Dkim;

/// <summary>One header field as received: the bytes before the first colon and the bytes after it, folding
/// line breaks included, without the line break that ends the field.</summary>
public readonly record struct RawHeaderField(ReadOnlyMemory<byte> Name, ReadOnlyMemory<byte> Value)
{
    public string NameString => System.Text.Encoding.Latin1.GetString(Name.Span.TrimEnd(" \t"u8));
}

/// <summary>A whole message split into raw header fields and body.</summary>
public sealed class RawMessage
{
    internal RawMessage(ReadOnlyMemory<byte> message, IReadOnlyList<RawHeaderField> headers, int bodyOffset)
    {
        Message = message;
        Headers = headers;
        BodyOffset = bodyOffset;
    }

    public ReadOnlyMemory<byte> Message { get; }

    public IReadOnlyList<RawHeaderField> Headers { get; }

    /// <summary>Offset of the first body byte (after the empty line), or the message length if none.</summary>
    public int BodyOffset { get; }

    public ReadOnlyMemory<byte> Body => Message[BodyOffset..];
}

/// <summary>
/// Splits a message held in memory into header fields (folded lines kept) and body at the first empty line.
/// Lines end with CRLF or a bare LF. A line that is neither a field (no colon) nor a continuation is skipped.
/// </summary>
public static class RawMessageParser
{
    public static RawMessage Parse(ReadOnlyMemory<byte> message)
    {
        ReadOnlySpan<byte> span = message.Span;
        var headers = new List<RawHeaderField>();
        int pos = 0;
        int fieldStart = -1;
        int colon = -1;
        int fieldEnd = -1;
        while (pos < span.Length)
        {
            int lf = span[pos..].IndexOf((byte)'\n');
            int lineEnd = lf < 0 ? span.Length : pos + lf;          // index of LF (or end)
            int contentEnd = lineEnd > pos && span[lineEnd - 1] == (byte)'\r' ? lineEnd - 1 : lineEnd;
            int next = lf < 0 ? span.Length : lineEnd + 1;
            if (contentEnd == pos)
            {
                // the empty line: end of header
                AddField(message, headers, fieldStart, colon, fieldEnd);
                return new RawMessage(message, headers, next);
            }
            byte first = span[pos];
            if ((first == (byte)' ' || first == (byte)'\t') && fieldStart >= 0)
            {
                fieldEnd = contentEnd;                               // continuation line
            }
            else
            {
                AddField(message, headers, fieldStart, colon, fieldEnd);
                int c = span[pos..contentEnd].IndexOf((byte)':');
                if (c < 0)
                {
                    fieldStart = -1;                                 // not a header field: skip
                }
                else
                {
                    fieldStart = pos;
                    colon = pos + c;
                    fieldEnd = contentEnd;
                }
            }
            pos = next;
        }
        AddField(message, headers, fieldStart, colon, fieldEnd);
        return new RawMessage(message, headers, span.Length);
    }

    private static void AddField(ReadOnlyMemory<byte> message, List<RawHeaderField> headers, int start, int colon, int end)
    {
        if (start >= 0)
        {
            headers.Add(new RawHeaderField(message[start..colon], message[(colon + 1)..end]));
        }
    }

    /// <summary>Converts bare LF line ends to CRLF (for messages read from files by the CLI).</summary>
    public static byte[] NormalizeLineEndings(ReadOnlySpan<byte> message)
    {
        int bare = 0;
        for (int i = 0; i < message.Length; i++)
        {
            if (message[i] == (byte)'\n' && (i == 0 || message[i - 1] != (byte)'\r'))
            {
                bare++;
            }
        }
        var result = new byte[message.Length + bare];
        int n = 0;
        for (int i = 0; i < message.Length; i++)
        {
            if (message[i] == (byte)'\n' && (i == 0 || message[i - 1] != (byte)'\r'))
            {
                result[n++] = (byte)'\r';
            }
            result[n++] = message[i];
        }
        return result;
    }
}
