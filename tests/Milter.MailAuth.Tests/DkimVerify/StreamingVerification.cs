using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>Verifies a message through <see cref="DkimVerifierContext"/> as a milter does: the header fields one
/// by one, then the body fed whole, byte by byte and in three pieces (see <see cref="CollectingOutput.Splits"/>).</summary>
internal static class StreamingVerification
{
    /// <summary>The results for each split, each from a fresh verifier made by <paramref name="newVerifier"/>.</summary>
    public static async Task<IReadOnlyList<(string How, IReadOnlyList<DkimVerificationResult> Results)>> EverySplitAsync(
        Func<DkimVerifier> newVerifier, byte[] message)
    {
        RawMessage parsed = RawMessageParser.Parse(message);
        var all = new List<(string, IReadOnlyList<DkimVerificationResult>)>();
        foreach ((string how, byte[][] chunks) in CollectingOutput.Splits(parsed.Body.ToArray()))
        {
            using DkimVerifierContext context = newVerifier().CreateContext();
            foreach (RawHeaderField field in parsed.Headers)
            {
                context.AddHeader(field.Name.Span, field.Value.Span);
            }
            foreach (byte[] chunk in chunks)
            {
                context.AppendBody(chunk);
            }
            all.Add((how, await context.CompleteAsync(CancellationToken.None)));
        }
        return all;
    }
}
