using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>go-msgauth canonicalization vectors (TestData/dkim/go-msgauth-canonicalization.yaml), one case each.</summary>
public class CanonicalizationVectorTests
{
    private const string File = "go-msgauth-canonicalization.yaml";

    private static List<object> Suite(string name)
    {
        var vectors = (Dictionary<object, object>)DkimTestData.Yaml(File)["vectors"];
        return (List<object>)vectors[name];
    }

    private static (byte[][] Chunks, byte[] Expected) Vector(string suite, int index)
    {
        var v = (Dictionary<object, object>)Suite(suite)[index];
        byte[][] chunks = v["in"] switch
        {
            List<object> list => list.Select(o => DkimTestData.Latin1((string)o)).ToArray(),
            string s => [DkimTestData.Latin1(s)],
            _ => throw new InvalidDataException("bad vector"),
        };
        return (chunks, DkimTestData.Latin1((string)v["out"]));
    }

    public static TheoryData<string, int> BodyVectors()
    {
        var data = new TheoryData<string, int>();
        foreach (string suite in new[] { "simpleCanonicalizerBodyTests", "relaxedCanonicalizerBodyTests" })
        {
            int count = Suite(suite).Count;
            for (int i = 0; i < count; i++)
            {
                data.Add(suite, i);
            }
        }
        return data;
    }

    public static TheoryData<int> HeaderVectors()
    {
        var data = new TheoryData<int>();
        int count = Suite("relaxedCanonicalizerHeaderTests").Count;
        for (int i = 0; i < count; i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Fact]
    public void SuiteHasTheDocumentedNumberOfVectors()
    {
        Assert.Equal(10, Suite("simpleCanonicalizerBodyTests").Count);
        Assert.Equal(4, Suite("relaxedCanonicalizerHeaderTests").Count);
        Assert.Equal(10, Suite("relaxedCanonicalizerBodyTests").Count);
    }

    [Theory]
    [MemberData(nameof(BodyVectors))]
    public void BodyVector(string suite, int index)
    {
        (byte[][] chunks, byte[] expected) = Vector(suite, index);
        DkimCanonicalization c = suite.StartsWith("relaxed", StringComparison.Ordinal)
            ? DkimCanonicalization.Relaxed
            : DkimCanonicalization.Simple;

        Assert.Equal(Show(expected), Show(CollectingOutput.Canonicalize(c, chunks)));

        byte[] whole = chunks.SelectMany(x => x).ToArray();
        foreach ((string how, byte[][] split) in CollectingOutput.Splits(whole))
        {
            Assert.True(expected.AsSpan().SequenceEqual(CollectingOutput.Canonicalize(c, split)), how);
        }
    }

    [Theory]
    [MemberData(nameof(HeaderVectors))]
    public void RelaxedHeaderVector(int index)
    {
        (byte[][] chunks, byte[] expected) = Vector("relaxedCanonicalizerHeaderTests", index);
        byte[] field = Assert.Single(chunks);
        int colon = Array.IndexOf(field, (byte)':');
        Assert.True(field.AsSpan().EndsWith("\r\n"u8));
        byte[] name = field[..colon];
        byte[] value = field[(colon + 1)..^2];

        Assert.Equal(Show(expected), Show(CanonicalHeader(DkimCanonicalization.Relaxed, name, value, true)));
        // simple leaves the field exactly as it is
        Assert.Equal(Show(field), Show(CanonicalHeader(DkimCanonicalization.Simple, name, value, true)));
    }

    internal static byte[] CanonicalHeader(DkimCanonicalization c, byte[] name, byte[] value, bool crlf)
    {
        var buffer = new byte[DkimHeaderCanonicalizer.MaxLength(name, value)];
        int n = DkimHeaderCanonicalizer.Canonicalize(c, name, value, crlf, buffer);
        return buffer[..n];
    }

    internal static string Show(byte[] bytes) =>
        Encoding.Latin1.GetString(bytes).Replace("\r", "\\r").Replace("\n", "\\n").Replace("\t", "\\t");
}
