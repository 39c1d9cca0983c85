using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>The message the `sign`, `verify` and `check` commands read on stdin.</summary>
internal static class CliStdin
{
    /// <summary>Largest message read from stdin.</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    /// <summary>All of stdin with bare LF made CRLF. Input larger than <see cref="MaxMessageBytes"/> is bad input:
    /// a <see cref="UsageException"/> (exit 2).</summary>
    public static async Task<byte[]> ReadMessageAsync(string command)
    {
        await using var stdin = Console.OpenStandardInput();
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
}
