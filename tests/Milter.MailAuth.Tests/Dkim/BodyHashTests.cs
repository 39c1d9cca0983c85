using System.Security.Cryptography;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

public class BodyHashTests
{
    private const string RfcBodyHash = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

    private static string BodyHash(DkimCanonicalization c, byte[] body, long limit = -1)
    {
        using var hasher = new DkimBodyHasher(c, limit);
        hasher.Append(body);
        return hasher.CompleteBase64();
    }

    [Fact]
    public void Rfc8463ExampleRelaxedBodyHash()
    {
        RawMessage m = RawMessageParser.Parse(DkimTestData.Bytes("rfc8463", "A3-signed.eml"));
        Assert.Equal(RfcBodyHash, BodyHash(DkimCanonicalization.Relaxed, m.Body.ToArray()));
    }

    [Fact]
    public void SignVectorSimpleBodyHash()
    {
        // body without trailing CRLF, "game. Are" with one space
        RawMessage m = RawMessageParser.Parse(DkimTestData.Bytes("sign-vectors", "unsigned.eml"));
        Assert.Equal(RfcBodyHash, BodyHash(DkimCanonicalization.Simple, m.Body.ToArray()));
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void LengthLimitHashesOnlyThePrefixOfTheCanonicalBody(DkimCanonicalization c)
    {
        byte[] body = "Hello  world \r\nsecond line\r\n\r\n\r\n"u8.ToArray();
        byte[] canonical = CollectingOutput.Canonicalize(c, [body]);
        for (int limit = 0; limit <= canonical.Length + 2; limit++)
        {
            using var hasher = new DkimBodyHasher(c, limit);
            hasher.Append(body);
            byte[] hash = hasher.Complete();
            int n = Math.Min(limit, canonical.Length);
            Assert.Equal(SHA256.HashData(canonical.AsSpan(0, n)), hash);
            Assert.Equal(canonical.Length, hasher.CanonicalLength);
            Assert.Equal(n, hasher.HashedLength);
        }
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void AMillionBlankLinesAreCountedNotBuffered(DkimCanonicalization c)
    {
        var output = new CountingOutput();
        IBodyCanonicalizer canonicalizer = BodyCanonicalizer.Create(c, output);
        byte[] chunk = new byte[8000];
        for (int i = 0; i < chunk.Length; i += 2)
        {
            chunk[i] = (byte)'\r';
            chunk[i + 1] = (byte)'\n';
        }
        canonicalizer.Append("x\r\n"u8);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 250; i++)
        {
            canonicalizer.Append(chunk); // 4000 blank lines each: one million in all
            if (c == DkimCanonicalization.Relaxed)
            {
                canonicalizer.Append(" \t\r\n"u8); // whitespace-only lines are blank in relaxed
            }
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 16 * 1024, $"allocated {allocated} bytes while holding back blank lines");
        Assert.Equal(3, output.Bytes);
        canonicalizer.Append("y"u8);
        Assert.Equal(3 + 2_000_000 + (c == DkimCanonicalization.Relaxed ? 500 : 0) + 1, output.Bytes);
        canonicalizer.Complete();
        Assert.Equal(3 + 2_000_000 + (c == DkimCanonicalization.Relaxed ? 500 : 0) + 3, output.Bytes);
    }

    private sealed class CountingOutput : ICanonicalOutput
    {
        public long Bytes { get; private set; }

        public void Write(ReadOnlySpan<byte> bytes) => Bytes += bytes.Length;
    }

    [Fact]
    public void BlankLinesBeforeContentAreWrittenInBlocks()
    {
        var output = new CollectingOutput();
        IBodyCanonicalizer canonicalizer = BodyCanonicalizer.Create(DkimCanonicalization.Simple, output);
        for (int i = 0; i < 10_000; i++)
        {
            canonicalizer.Append("\r\n"u8);
        }
        Assert.Equal(0, output.Writes);
        canonicalizer.Append("x"u8);
        canonicalizer.Complete();
        byte[] result = output.ToArray();
        Assert.Equal(10_000 * 2 + 3, result.Length);
        Assert.True(output.Writes < 200, $"{output.Writes} writes");
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void RandomBodiesGiveTheSameResultForEverySplit(DkimCanonicalization c)
    {
        var random = new Random(6376);
        byte[] alphabet = " \t\r\n\r\nab\u00e9"u8.ToArray();
        for (int round = 0; round < 300; round++)
        {
            byte[] body = new byte[random.Next(0, 60)];
            for (int i = 0; i < body.Length; i++)
            {
                body[i] = alphabet[random.Next(alphabet.Length)];
            }
            byte[] expected = CollectingOutput.Canonicalize(c, [body]);
            foreach ((string how, byte[][] chunks) in CollectingOutput.Splits(body))
            {
                Assert.True(expected.AsSpan().SequenceEqual(CollectingOutput.Canonicalize(c, chunks)), how);
            }
            for (int cut = 0; cut <= body.Length; cut++)
            {
                Assert.True(expected.AsSpan().SequenceEqual(CollectingOutput.Canonicalize(c, [body[..cut], body[cut..]])));
            }
            Assert.Equal(Reference(c, body), expected);
        }
    }

    /// <summary>A direct, non-streaming reading of RFC 6376 3.4.3/3.4.4 (bare LF taken as a line end, lone CR
    /// as content) to check the streaming code against.</summary>
    private static byte[] Reference(DkimCanonicalization c, byte[] body)
    {
        string text = System.Text.Encoding.Latin1.GetString(body);
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                int end = i > start && text[i - 1] == '\r' ? i - 1 : i;
                lines.Add(text[start..end]);
                start = i + 1;
            }
        }
        bool lastUnterminated = start < text.Length;
        if (lastUnterminated)
        {
            lines.Add(text[start..]);
        }
        if (c == DkimCanonicalization.Relaxed)
        {
            for (int i = 0; i < lines.Count; i++)
            {
                var sb = new System.Text.StringBuilder();
                bool ws = false;
                foreach (char ch in lines[i])
                {
                    if (ch is ' ' or '\t')
                    {
                        ws = true;
                        continue;
                    }
                    if (ws)
                    {
                        sb.Append(' ');
                    }
                    ws = false;
                    sb.Append(ch);
                }
                lines[i] = sb.ToString();
            }
        }
        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }
        string result = string.Concat(lines.Select(l => l + "\r\n"));
        if (c == DkimCanonicalization.Simple && result.Length == 0)
        {
            result = "\r\n";
        }
        return System.Text.Encoding.Latin1.GetBytes(result);
    }

    /// <summary>The write buffer goes back to the pool at Complete: body bytes after it are refused by the canonicalizer
    /// (never written to a buffer the pool may have handed out again), and the hash stays what it was.</summary>
    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void Body_after_complete_is_refused_and_the_hash_stays(DkimCanonicalization c)
    {
        using var hasher = new DkimBodyHasher(c);
        hasher.Append("Hello\r\n"u8);
        byte[] first = hasher.Complete();
        Assert.Throws<InvalidOperationException>(() => hasher.Append("\r\n\r\nmore text after the end\r\n"u8));
        Assert.Equal(first, hasher.Complete());
    }
}
