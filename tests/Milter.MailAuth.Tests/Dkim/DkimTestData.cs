using System.Text;
using Milter.MailAuth.Dkim;
using YamlDotNet.Serialization;

namespace Milter.MailAuth.Tests.Dkim;

internal static class DkimTestData
{
    public static string PathOf(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "TestData", "dkim", .. parts]);

    public static byte[] Bytes(params string[] parts) => File.ReadAllBytes(PathOf(parts));

    public static string Text(params string[] parts) => File.ReadAllText(PathOf(parts));

    public static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);

    public static Dictionary<object, object> Yaml(params string[] parts)
    {
        var deserializer = new DeserializerBuilder().Build();
        return deserializer.Deserialize<Dictionary<object, object>>(Text(parts));
    }
}

/// <summary>Collects canonical output bytes and counts writes.</summary>
internal sealed class CollectingOutput : ICanonicalOutput
{
    private readonly MemoryStream _stream = new();

    public int Writes { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Writes++;
        _stream.Write(bytes);
    }

    public byte[] ToArray() => _stream.ToArray();

    public static byte[] Canonicalize(DkimCanonicalization c, IEnumerable<byte[]> chunks)
    {
        var output = new CollectingOutput();
        IBodyCanonicalizer canonicalizer = BodyCanonicalizer.Create(c, output);
        foreach (byte[] chunk in chunks)
        {
            canonicalizer.Append(chunk);
        }
        canonicalizer.Complete();
        return output.ToArray();
    }

    /// <summary>The same input fed whole, byte by byte, and in three pieces.</summary>
    public static IEnumerable<(string How, byte[][] Chunks)> Splits(byte[] input)
    {
        yield return ("whole", [input]);
        byte[][] single = new byte[input.Length][];
        for (int i = 0; i < input.Length; i++)
        {
            single[i] = [input[i]];
        }
        yield return ("byte-by-byte", single);
        int a = input.Length / 3, b = 2 * input.Length / 3;
        yield return ("three pieces", [input[..a], input[a..b], input[b..]]);
    }
}
