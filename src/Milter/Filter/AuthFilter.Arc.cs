using Microsoft.Extensions.Logging;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Inbound;

namespace Milter.Filter;

/// <summary>ARC sealing (RFC 8617 5.1) of inbound mail the filter accepted, after its Authentication-Results.</summary>
internal sealed partial class AuthFilter
{
    private IReadOnlyList<ArcHeader>? _arcSet;

    /// <summary>Makes the next ARC set when Arc:Seal is on: AAR = our Authentication-Results, AMS over the message as
    /// it leaves (the body and the received fields; the fields we add are not among those it signs), AS with cv= from
    /// our validation. Returns why the message cannot be sealed (the filter answers tempfail, as for DKIM signing),
    /// or null; a chain RFC 8617 says not to extend (newest cv=fail, 50 sets) is passed on unsealed.</summary>
    private string? Seal(InboundResult inbound, string authenticationResults)
    {
        _arcSet = null;
        if (_services.ArcSealer is not { } sealer) return null;
        if (_inbound?.RelaxedBodyHash is not { } bodyHash) return "the body hash was not computed";
        var headers = new List<RawHeaderField>(_state.Headers.Count);
        foreach (var (name, value) in _state.Headers)
            headers.Add(new RawHeaderField(System.Text.Encoding.ASCII.GetBytes(name), value));
        ArcSealResult result;
        try
        {
            result = sealer.Seal(headers, bodyHash, inbound.Arc.Result, authenticationResults);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or InvalidOperationException)
        {
            return e.Message;
        }
        if (result.Error is not null) return result.Error;
        if (result.Skipped is not null)
            Logger.LogDebug("not sealed: {Reason}", result.Skipped);
        _arcSet = result.Headers;
        return null;
    }
}
