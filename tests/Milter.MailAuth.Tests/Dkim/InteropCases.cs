using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>One message signed by our signer, possibly tampered with afterwards, with the expected verdict.</summary>
internal sealed record InteropCase(string Name, byte[] Message, string Domain, string Selector, string Record, bool ExpectPass);

/// <summary>Messages of many shapes signed with RSA-2048 and Ed25519 and every canonicalization pair.</summary>
internal static class InteropCases
{
    public const string Domain = "example.com";

    public static readonly Lazy<IReadOnlyList<InteropCase>> All = new(Build);

    private static IReadOnlyList<InteropCase> Build()
    {
        var cases = new List<InteropCase>();
        var rsa = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        var ed = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var now = new FixedTimeProvider(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        DkimCanonicalization[] canons = [DkimCanonicalization.Simple, DkimCanonicalization.Relaxed];
        foreach ((string shape, byte[] message, bool big) in Shapes())
        {
            foreach ((string selector, DkimPrivateKey key) in new[] { ("rsa", rsa), ("ed", ed) })
            {
                foreach (DkimCanonicalization hc in canons)
                {
                    foreach (DkimCanonicalization bc in canons)
                    {
                        // the multi-megabyte shapes get two combinations, the rest all of them
                        if (big && (hc != bc || (selector == "rsa") != (hc == DkimCanonicalization.Relaxed)))
                        {
                            continue;
                        }
                        var signer = new DkimSigner(new DkimSignerOptions
                        {
                            Domain = Domain,
                            Selector = selector,
                            Key = key,
                            HeaderCanonicalization = hc,
                            BodyCanonicalization = bc,
                            SignatureLifetime = TimeSpan.FromDays(7),
                            TimeProvider = now,
                        });
                        byte[] signed = SignStreaming(signer, message);
                        string name = $"{shape} {key.Algorithm} {DkimCanonicalizationNames.ToPairValue(hc, bc)}";
                        cases.Add(new InteropCase(name, signed, Domain, selector, key.PublicKeyRecord, true));
                        cases.Add(new InteropCase(name + " tampered-body", TamperBody(signed), Domain, selector, key.PublicKeyRecord, false));
                        cases.Add(new InteropCase(name + " tampered-subject", TamperSubject(signed), Domain, selector, key.PublicKeyRecord, false));
                    }
                }
            }
        }
        return cases;
    }

    /// <summary>Signs through the streaming context with odd chunk sizes; must equal the whole-message path.</summary>
    private static byte[] SignStreaming(DkimSigner signer, byte[] message)
    {
        RawMessage raw = RawMessageParser.Parse(message);
        using DkimSigningContext context = signer.CreateContext();
        foreach (RawHeaderField f in raw.Headers)
        {
            context.AddHeader(f.Name.Span, f.Value.Span);
        }
        ReadOnlySpan<byte> body = raw.Body.Span;
        int[] sizes = [1, 7, 4093, 65536];
        for (int pos = 0, i = 0; pos < body.Length; i++)
        {
            int n = Math.Min(sizes[i % sizes.Length], body.Length - pos);
            context.AppendBody(body.Slice(pos, n));
            pos += n;
        }
        DkimSignResult result = context.Complete();
        byte[] whole = signer.SignMessageToBytes(message, out DkimSignResult wholeResult);
        if (!result.Success || result.Header != wholeResult.Header)
        {
            throw new InvalidOperationException("streaming and whole-message signing differ");
        }
        return whole;
    }

    private static byte[] TamperBody(byte[] signed)
    {
        RawMessage raw = RawMessageParser.Parse(signed);
        byte[] copy = (byte[])signed.Clone();
        for (int i = raw.BodyOffset + ((signed.Length - raw.BodyOffset) / 2); i < signed.Length; i++)
        {
            if (char.IsAsciiLetterOrDigit((char)copy[i]))
            {
                copy[i] = copy[i] == (byte)'x' ? (byte)'y' : (byte)'x';
                return copy;
            }
        }
        for (int i = raw.BodyOffset; i < signed.Length; i++)
        {
            if (char.IsAsciiLetterOrDigit((char)copy[i]))
            {
                copy[i] = copy[i] == (byte)'x' ? (byte)'y' : (byte)'x';
                return copy;
            }
        }
        // no letter in the body (or no body at all): add one, with the header/body separator if it is missing
        bool hasSeparator = raw.BodyOffset < signed.Length || signed.AsSpan().EndsWith("\r\n\r\n"u8);
        return hasSeparator ? [.. signed, .. "tampered\r\n"u8] : [.. signed, .. "\r\ntampered\r\n"u8];
    }

    private static byte[] TamperSubject(byte[] signed)
    {
        byte[] copy = (byte[])signed.Clone();
        int at = copy.AsSpan().IndexOf("\nSubject:"u8);
        int i = at + 9;
        while (!char.IsAsciiLetterOrDigit((char)copy[i]))
        {
            i++;
        }
        copy[i] = copy[i] == (byte)'X' ? (byte)'Y' : (byte)'X';
        return copy;
    }

    private static IEnumerable<(string Shape, byte[] Message, bool Big)> Shapes()
    {
        const string h = "From: Joe <joe@example.com>\r\nTo: Suzie <suzie@example.net>\r\nSubject: Hello there\r\n" +
                         "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\nMessage-ID: <1@example.com>\r\n";
        yield return ("empty-body", Ascii(h + "\r\n"), false);
        yield return ("no-body-separator", Ascii(h), false);
        yield return ("no-trailing-crlf", Ascii(h + "\r\nHello world"), false);
        yield return ("trailing-blank-lines", Ascii(h + "\r\nHi.\r\n\r\n\r\n\r\n"), false);
        yield return ("only-blank-lines", Ascii(h + "\r\n\r\n\r\n \t\r\n"), false);
        yield return ("line-end-whitespace", Ascii(h + "\r\n a  b \t\r\n\tc\t \r\n  \r\nd   e\t\r\n"), false);
        yield return ("long-line", Ascii(h + "\r\n" + new string('L', 20000) + " end\r\n"), false);
        yield return ("8bit", Encoding.UTF8.GetBytes(
            "From: Jöran <joran@example.com>\r\nTo: x@example.net\r\nSubject: Grüße aus Köln\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÄpfel und Bäume, 日本語\r\n"), false);
        yield return ("folded-repeated-headers", Ascii(
            "Received: from a by b; Fri, 11 Jul 2003 21:00:37 -0700\r\nReceived: from c\r\n\tby d\r\n" +
            "From: Joe\r\n <joe@example.com>\r\nTo: a@example.net,\r\n\tb@example.net,\r\n  c@example.net\r\nTo: d@example.net\r\n" +
            "Subject:no space\r\n  and folded \t twice\r\n\tend  \r\nCc:  \t spaced@example.net \t\r\nX-Other: not signed\r\n" +
            "Reply-To: r@example.com\r\nReply-To: s@example.com\r\n\r\nBody\r\n"), false);
        yield return ("1KB", Text(h, 1024, 1), false);
        yield return ("100KB", Text(h, 100 * 1024, 2), false);
        yield return ("1MB", Text(h, 1024 * 1024, 3), true);
        yield return ("5MB", Text(h, 5 * 1024 * 1024, 4), true);
    }

    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    private static byte[] Text(string headers, int size, int seed)
    {
        var random = new Random(seed);
        var sb = new StringBuilder(headers, size + 100).Append("\r\n");
        while (sb.Length < size)
        {
            int words = random.Next(0, 14);
            for (int w = 0; w < words; w++)
            {
                sb.Append(random.Next(4) == 0 ? "  " : " ").Append((char)('a' + random.Next(26)), random.Next(1, 9));
            }
            sb.Append(random.Next(10) == 0 ? " \t\r\n" : "\r\n");
        }
        return Encoding.ASCII.GetBytes(sb.ToString());
    }
}
