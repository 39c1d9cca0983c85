using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Arc;

/// <summary>Whole-message helpers around <see cref="ArcVerifierContext"/> (the streaming path).</summary>
public static class ArcVerification
{
    /// <summary>Verifies the DKIM signatures and the ARC chain of a message held in memory, in one body pass.</summary>
    public static async Task<(IReadOnlyList<DkimVerificationResult> Dkim, ArcChainResult Arc)> VerifyMessageAsync(
        DkimVerifier verifier, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        RawMessage parsed = RawMessageParser.Parse(message);
        using DkimVerifierContext context = verifier.CreateContext();
        foreach (RawHeaderField field in parsed.Headers)
        {
            context.AddHeader(field.Name.Span, field.Value.Span);
        }
        var arc = new ArcVerifierContext(context);
        arc.EndOfHeaders();
        context.AppendBody(parsed.Body.Span);
        var dkim = await context.CompleteAsync(cancellationToken).ConfigureAwait(false);
        return (dkim, await arc.CompleteAsync(cancellationToken).ConfigureAwait(false));
    }
}
