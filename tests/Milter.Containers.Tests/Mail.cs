using System.Text;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;

namespace Milter.Containers.Tests;

/// <summary>Test messages and what the sink received.</summary>
public static class Mail
{
    public static byte[] Message(string subject, string from = "you@example.test", string to = "someone@example.org") =>
        Encoding.ASCII.GetBytes(
            $"From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n" +
            $"Message-ID: <{Guid.NewGuid():N}@example.test>\r\n\r\nHello from the container test: {subject}.\r\n");

    /// <summary>The message as relayed, from a sink file (without smtp-sink's own lines).</summary>
    public static byte[] Relayed(byte[] sinkFile) => SmtpSink.StripSinkHeaders(sinkFile);

    /// <summary>The header block (before the first empty line).</summary>
    public static string Headers(byte[] message)
    {
        string text = Encoding.UTF8.GetString(message);
        return text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
    }

    /// <summary>How many fields named <paramref name="name"/> the header block holds.</summary>
    public static int Count(string headers, string name) =>
        ("\r\n" + headers).Split("\r\n" + name + ":", StringSplitOptions.None).Length - 1;

    /// <summary>Asserts the relayed message carries exactly one DKIM-Signature and that dkimpy verifies it against the
    /// test's DNS server; returns the header block. <paramref name="context"/> is added to a failure message.</summary>
    public static async Task<string> AssertSignedOnceAsync(byte[] relayed, int dnsPort, string context = "")
    {
        string headers = Headers(relayed);
        Assert.True(Count(headers, "DKIM-Signature") == 1, $"not exactly one DKIM-Signature:\n{headers}\n{context}");
        var verdict = await DkimPy.VerifyAsync(relayed, dnsPort);
        Assert.True(verdict.Pass, $"{verdict.Output}\n{headers}\n{context}");
        return headers;
    }
}
