using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

public class RawMessageParserTests
{
    private static string S(ReadOnlyMemory<byte> m) => Encoding.ASCII.GetString(m.Span);

    [Fact]
    public void KeepsFoldedLinesAndSplitsAtTheFirstEmptyLine()
    {
        byte[] m = Encoding.ASCII.GetBytes("A: 1\r\nB :two\r\n\tlines \r\nC:\r\n\r\nbody\r\n\r\nmore: not a header\r\n");
        RawMessage r = RawMessageParser.Parse(m);
        Assert.Equal(["A", "B ", "C"], r.Headers.Select(h => S(h.Name)));
        Assert.Equal(["A", "B", "C"], r.Headers.Select(h => h.NameString));
        Assert.Equal([" 1", "two\r\n\tlines ", ""], r.Headers.Select(h => S(h.Value)));
        Assert.Equal("body\r\n\r\nmore: not a header\r\n", S(r.Body));
    }

    [Fact]
    public void ToleratesBareLfAndMissingBody()
    {
        RawMessage r = RawMessageParser.Parse(Encoding.ASCII.GetBytes("A: 1\n folded\nB: 2\n\nbody\n"));
        Assert.Equal([" 1\n folded", " 2"], r.Headers.Select(h => S(h.Value)));
        Assert.Equal("body\n", S(r.Body));

        RawMessage noBody = RawMessageParser.Parse(Encoding.ASCII.GetBytes("A: 1\r\nB: 2"));
        Assert.Equal(2, noBody.Headers.Count);
        Assert.Equal(0, noBody.Body.Length);
    }

    [Fact]
    public void SkipsLinesThatAreNotFields()
    {
        RawMessage r = RawMessageParser.Parse(Encoding.ASCII.GetBytes(" orphan continuation\r\nnot a field\r\nA: 1\r\n\r\n"));
        Assert.Equal("A", Assert.Single(r.Headers).NameString);
    }

    [Theory]
    [InlineData("a\nb\r\nc\n", "a\r\nb\r\nc\r\n")]
    [InlineData("\n\n", "\r\n\r\n")]
    [InlineData("x\r\n", "x\r\n")]
    [InlineData("", "")]
    public void NormalizesBareLf(string input, string expected)
    {
        Assert.Equal(expected, Encoding.ASCII.GetString(RawMessageParser.NormalizeLineEndings(Encoding.ASCII.GetBytes(input))));
    }
}
