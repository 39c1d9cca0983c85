using System.Text;
using Milter.MailAuth.Dkim;
using Milter.Reporting;

namespace Milter.Filter;

/// <summary>The DKIM signatures of one outbound message, one per key of the author domain, fed as it streams.</summary>
internal sealed class OutboundSigning : IDisposable
{
    private readonly List<(DkimSigner Signer, DkimSigningContext Context)> _contexts = new();

    private readonly string? _error;

    /// <param name="error">Why the keys a rule names cannot be used for this message (the message is then refused).</param>
    public OutboundSigning(IReadOnlyList<DkimSigner> signers, string? error = null)
    {
        _error = error;
        foreach (var s in signers) _contexts.Add((s, s.CreateContext()));
    }

    /// <summary>Once a key was found for the author domain, the message must leave signed or not at all.</summary>
    public bool MustSign => _contexts.Count > 0 || _error is not null;

    public void AddHeader(string name, byte[] rawValue)
    {
        // On the stack: a new array per header field otherwise (issue 16).
        Span<byte> nameBytes = name.Length <= 256 ? stackalloc byte[name.Length] : new byte[name.Length];
        Encoding.ASCII.GetBytes(name, nameBytes);
        foreach (var (_, c) in _contexts) c.AddHeader(nameBytes, rawValue);
    }

    public void AppendBody(ReadOnlySpan<byte> chunk)
    {
        foreach (var (_, c) in _contexts) c.AppendBody(chunk);
    }

    public sealed record Outcome(IReadOnlyList<(string Name, string Value)> Headers, IReadOnlyList<SignedEntry> Signed, string? Error);

    public Outcome Complete()
    {
        var headers = new List<(string, string)>();
        var signed = new List<SignedEntry>();
        if (_error is not null) return new Outcome([], [], _error);
        foreach (var (signer, context) in _contexts)
        {
            var result = context.Complete();
            if (!result.Success)
                return new Outcome([], [], $"{signer.Options.Domain}/{signer.Options.Selector}: {result.Error}");
            headers.Add((result.Header!.Name, result.Header.Value));
            signed.Add(new SignedEntry(signer.Options.Domain, signer.Options.Selector, signer.Options.Key.Algorithm));
        }
        return new Outcome(headers, signed, null);
    }

    public void Dispose()
    {
        foreach (var (_, c) in _contexts) c.Dispose();
        _contexts.Clear();
    }
}
