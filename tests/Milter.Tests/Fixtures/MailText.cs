using System.Text;
using Milter.TestKit.Postfix;

namespace Milter.Tests.Fixtures;

/// <summary>Reading what a test Postfix delivered: the header block of a message and the count of one header field.</summary>
internal static class MailText
{
    /// <summary>The message text of an smtp-sink file, without the sink's own trace headers.</summary>
    public static string FromSinkFile(byte[] file) => Encoding.UTF8.GetString(SmtpSink.StripSinkHeaders(file));

    /// <summary>The header block: everything before the first empty line (CRLF CRLF).</summary>
    public static string HeaderBlock(string message) => message[..message.IndexOf("\r\n\r\n", StringComparison.Ordinal)];

    /// <summary>The header block of an smtp-sink file.</summary>
    public static string SinkHeaders(byte[] file) => HeaderBlock(FromSinkFile(file));

    /// <summary>How many header fields named <paramref name="name"/> (exact case, at a line start) the block holds.</summary>
    public static int CountField(string headers, string name)
    {
        var needle = "\r\n" + name + ":";
        var text = "\r\n" + headers;
        var n = 0;
        for (var i = text.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = text.IndexOf(needle, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
