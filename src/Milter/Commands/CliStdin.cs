using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>The message the `sign`, `verify` and `check` commands read on stdin.</summary>
internal static class CliStdin
{
    /// <summary>Largest message read from stdin.</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    public const string TerminalPrompt = "reading a message from standard input (Ctrl-D to end)";

    /// <summary>All of stdin with bare LF made CRLF. Input larger than <see cref="MaxMessageBytes"/> is bad input:
    /// a <see cref="UsageException"/> (exit 2). When stdin is a terminal, says so on stderr first.</summary>
    public static async Task<byte[]> ReadMessageAsync(string command)
    {
        if (CliStdio.InputIsTerminal)
            await Console.Error.WriteLineAsync(TerminalPrompt);
        await using var stdin = CliStdio.OpenInput();
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await stdin.ReadAsync(chunk)) > 0)
        {
            if (buffer.Length + n > MaxMessageBytes)
                throw new UsageException($"{command}: the message is larger than {MaxMessageBytes} bytes");
            buffer.Write(chunk, 0, n);
        }
        return RawMessageParser.NormalizeLineEndings(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary><see cref="ReadMessageAsync"/>, then <see cref="NotAMessageReason"/>: input that is not a message
    /// is a <see cref="UsageException"/> (exit 2), so it is not taken for an unsigned message.</summary>
    public static async Task<byte[]> ReadRequiredMessageAsync(string command)
    {
        var message = await ReadMessageAsync(command);
        if (NotAMessageReason(message) is { } reason)
            throw new UsageException($"{command}: standard input is not a message: {reason}");
        return message;
    }

    /// <summary>Why <paramref name="message"/> is not an RFC 5322 message, or null when it may be one.
    /// RFC 5322 section 3.5: a message is header fields, then optionally an empty line and a body, so a header
    /// block alone is a message; but it starts with a header field (section 2.2: field-name ":"), and
    /// section 2.1/2.3 allow no NUL anywhere.</summary>
    public static string? NotAMessageReason(ReadOnlySpan<byte> message)
    {
        if (message.IsEmpty) return "the input is empty";
        var nul = message.IndexOf((byte)0);
        if (nul >= 0) return $"it holds a NUL byte at offset {nul} (binary data?)";
        var lf = message.IndexOf((byte)'\n');
        var first = lf < 0 ? message : message[..lf];
        if (first.Length > 0 && first[^1] == '\r') first = first[..^1];
        if (first.IsEmpty) return "it starts with an empty line, so it has no header fields";
        if (!IsFieldStart(first))
            return $"the first line is not a header field (expected NAME: value): \"{Shown(first)}\"";
        return null;
    }

    /// <summary>field-name = 1*ftext (printable US-ASCII but ':'), then ':' (obsolete syntax, section 4.5.3:
    /// white space before the colon).</summary>
    private static bool IsFieldStart(ReadOnlySpan<byte> line)
    {
        var i = 0;
        while (i < line.Length && line[i] is >= 33 and <= 126 and not (byte)':') i++;
        if (i == 0) return false;
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t') i++;
        return i < line.Length && line[i] == ':';
    }

    private static string Shown(ReadOnlySpan<byte> line)
    {
        var text = Encoding.Latin1.GetString(line[..Math.Min(line.Length, 60)]);
        var sb = new StringBuilder();
        foreach (var ch in text) sb.Append(ch is >= ' ' and < '\x7f' ? ch : '?');
        if (line.Length > 60) sb.Append("...");
        return sb.ToString();
    }
}
