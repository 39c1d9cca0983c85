using System.Text;
using Milter.MailAuth.Dkim;
using Milter.Protocol.Client;

namespace Milter.Commands.Bench;

/// <summary>One message ready to send: header fields as Postfix passes them (value after the colon, folds
/// as bare LF) and the body with CRLF line ends.</summary>
internal sealed record BenchMessage(string Sender, IReadOnlyList<KeyValuePair<string, string>> Headers, ReadOnlyMemory<byte> Body);

/// <summary>The messages a bench run cycles through: generated ones of a given size, or .eml files.</summary>
internal static class BenchMessages
{
    /// <summary>Distinct generated messages; the run cycles through them.</summary>
    public const int PoolSize = 64;
    public const int MaxEmlFiles = 10_000;
    public const int MaxEmlBytes = 64 * 1024 * 1024;
    public const long MaxEmlTotalBytes = 1024L * 1024 * 1024;

    private const string Words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua";

    /// <summary>Messages of about <paramref name="size"/> bytes (headers and body) from bench@<paramref name="domain"/>.</summary>
    public static List<byte[]> Generate(string domain, int size, int count)
    {
        var words = Words.Split(' ');
        var list = new List<byte[]>(count);
        for (var n = 0; n < count; n++)
        {
            var random = new Random(n + 1);
            var sb = new StringBuilder(size + 256);
            sb.Append("From: Bench Sender <bench@").Append(domain).Append(">\r\n")
              .Append("To: Bench Recipient <rcpt@bench.example>\r\n")
              .Append("Subject: bench message ").Append(n).Append("\r\n")
              .Append("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n")
              .Append("Message-ID: <bench.").Append(n).Append('@').Append(domain).Append(">\r\n")
              .Append("MIME-Version: 1.0\r\n")
              .Append("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
            var line = new StringBuilder(80);
            while (sb.Length < size)
            {
                line.Clear();
#pragma warning disable CA5394 // filler text for benchmark messages, seeded so every run sends the same bytes
                while (line.Length < 72) line.Append(words[random.Next(words.Length)]).Append(' ');
#pragma warning restore CA5394
                sb.Append(line.ToString().TrimEnd()).Append("\r\n");
            }
            list.Add(Encoding.ASCII.GetBytes(sb.ToString()));
        }
        return list;
    }

    /// <summary>Every *.eml file of <paramref name="dir"/> (sorted by name), line ends made CRLF.</summary>
    public static List<byte[]> ReadEmlDirectory(string dir)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"bench: --eml-dir {dir} is not a directory");
        var files = Directory.GetFiles(dir, "*.eml").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new UsageException($"bench: --eml-dir {dir} holds no .eml files");
        if (files.Count > MaxEmlFiles) throw new UsageException($"bench: --eml-dir {dir} holds {files.Count} .eml files; at most {MaxEmlFiles} are read");
        var list = new List<byte[]>(files.Count);
        long total = 0;
        foreach (var file in files)
        {
            var length = new FileInfo(file).Length;
            total += length;
            if (length > MaxEmlBytes || total > MaxEmlTotalBytes)
                throw new UsageException($"bench: {file}: the .eml files are too large (at most {MaxEmlBytes} bytes each, {MaxEmlTotalBytes} in all)");
            list.Add(RawMessageParser.NormalizeLineEndings(File.ReadAllBytes(file)));
        }
        return list;
    }

    /// <summary>Splits a CRLF message into what the MTA passes over the milter protocol. The envelope sender is
    /// the From address when one can be read, else bench@<paramref name="fallbackDomain"/>.</summary>
    public static BenchMessage ToBenchMessage(byte[] message, string fallbackDomain)
    {
        var parsed = RawMessageParser.Parse(message);
        var headers = new List<KeyValuePair<string, string>>(parsed.Headers.Count);
        string? sender = null;
        foreach (var field in parsed.Headers)
        {
            // Postfix passes folded values with bare LF (as libmilter filters expect).
            var value = Encoding.UTF8.GetString(field.Value.Span).Replace("\r\n", "\n", StringComparison.Ordinal);
            var name = field.NameString;
            headers.Add(new(name, value));
            if (sender is null && name.Equals("From", StringComparison.OrdinalIgnoreCase)) sender = AddressOf(value);
        }
        return new BenchMessage(sender ?? $"bench@{fallbackDomain}", headers, parsed.Body);
    }

    /// <summary>The addr-spec inside angle brackets, or the trimmed value when it has none.</summary>
    private static string? AddressOf(string value)
    {
        var open = value.LastIndexOf('<');
        var close = value.LastIndexOf('>');
        var address = open >= 0 && close > open ? value[(open + 1)..close] : value;
        address = address.Trim();
        return address.Contains('@', StringComparison.Ordinal) && !address.Any(char.IsWhiteSpace) ? address : null;
    }

    /// <summary>Signs every message with <paramref name="signer"/> (verify mode: done once, before the clock starts).</summary>
    public static List<byte[]> SignAll(IEnumerable<byte[]> messages, DkimSigner signer)
    {
        var list = new List<byte[]>();
        foreach (var m in messages)
        {
            var signed = signer.SignMessageToBytes(m, out var result);
            if (!result.Success) throw new UsageException($"bench: cannot pre-sign a message: {result.Error}");
            list.Add(signed);
        }
        return list;
    }

    public static MilterTransaction ToTransaction(BenchMessage message, string queueId)
    {
        var mailMacros = new Dictionary<string, string> { ["i"] = queueId, ["{mail_addr}"] = message.Sender };
        return new MilterTransaction
        {
            Sender = "<" + message.Sender + ">",
            Recipients = ["<rcpt@bench.example>"],
            Headers = message.Headers,
            Body = message.Body,
            MailMacros = mailMacros,
            RcptMacros = new Dictionary<string, string> { ["i"] = queueId, ["{rcpt_addr}"] = "rcpt@bench.example" },
            EndOfMessageMacros = new Dictionary<string, string> { ["i"] = queueId },
        };
    }
}
