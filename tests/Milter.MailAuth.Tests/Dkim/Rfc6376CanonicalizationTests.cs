using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>RFC 6376 section 3.4.5 examples (TestData/dkim/rfc6376/section-3.4.5-canonicalization.yaml).</summary>
public class Rfc6376CanonicalizationTests
{
    private static readonly string[] File = ["rfc6376", "section-3.4.5-canonicalization.yaml"];

    private static string Get(string section, string key) =>
        (string)((Dictionary<object, object>)DkimTestData.Yaml(File)[section])[key];

    private static byte[] CanonicalHeaders(DkimCanonicalization c)
    {
        byte[] headers = DkimTestData.Latin1(Get("input", "headers"));
        var output = new List<byte>();
        foreach (RawHeaderField field in RawMessageParser.Parse(headers).Headers)
        {
            output.AddRange(CanonicalizationVectorTests.CanonicalHeader(c, field.Name.ToArray(), field.Value.ToArray(), true));
        }
        return output.ToArray();
    }

    [Theory]
    [InlineData(DkimCanonicalization.Relaxed, "relaxed_headers")]
    [InlineData(DkimCanonicalization.Simple, "simple_headers")]
    public void Headers(DkimCanonicalization c, string expectedKey)
    {
        Assert.Equal(
            CanonicalizationVectorTests.Show(DkimTestData.Latin1(Get("expected", expectedKey))),
            CanonicalizationVectorTests.Show(CanonicalHeaders(c)));
    }

    [Theory]
    [InlineData(DkimCanonicalization.Relaxed, "relaxed_body")]
    [InlineData(DkimCanonicalization.Simple, "simple_body")]
    public void Body(DkimCanonicalization c, string expectedKey)
    {
        byte[] expected = DkimTestData.Latin1(Get("expected", expectedKey));
        byte[] body = DkimTestData.Latin1(Get("input", "body"));
        foreach ((string how, byte[][] chunks) in CollectingOutput.Splits(body))
        {
            Assert.True(expected.AsSpan().SequenceEqual(CollectingOutput.Canonicalize(c, chunks)), how);
        }
    }

    [Fact]
    public void FullMessageSplitsIntoTheSameHeadersAndBody()
    {
        byte[] full = DkimTestData.Latin1(Get("input", "full_message"));
        RawMessage message = RawMessageParser.Parse(full);
        Assert.Equal(2, message.Headers.Count);
        Assert.Equal(Get("input", "body"), System.Text.Encoding.Latin1.GetString(full, message.BodyOffset, full.Length - message.BodyOffset));
    }
}
