using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Verifies the DKIM signatures of messages (RFC 6376 6; RFC 8301; RFC 8463). One instance serves many
/// messages concurrently; each message gets a <see cref="DkimVerifierContext"/> that is fed header fields,
/// then body chunks, then completed. Keys are cached in a <see cref="DkimKeyCache"/>.
/// </summary>
public sealed class DkimVerifier
{
    private readonly IDnsResolver _resolver;

    public DkimVerifier(IDnsResolver resolver, DkimVerifierOptions? options = null, TimeProvider? timeProvider = null,
        DkimKeyCache? keyCache = null)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        _resolver = resolver;
        Options = options ?? new DkimVerifierOptions();
        Options.Validate();
        TimeProvider = timeProvider ?? TimeProvider.System;
        KeyCache = keyCache ?? new DkimKeyCache(Options.KeyCacheSize, Options.KeyCacheTimeToLive, TimeProvider);
    }

    public DkimVerifierOptions Options { get; }

    public TimeProvider TimeProvider { get; }

    public DkimKeyCache KeyCache { get; }

    /// <summary>Starts one message.</summary>
    public DkimVerifierContext CreateContext() => new(this);

    /// <summary>Verifies a whole message held in memory (CRLF or bare LF line ends) through the streaming path.</summary>
    public async Task<IReadOnlyList<DkimVerificationResult>> VerifyMessageAsync(ReadOnlyMemory<byte> message,
        CancellationToken cancellationToken = default)
    {
        RawMessage parsed = RawMessageParser.Parse(message);
        using DkimVerifierContext context = CreateContext();
        foreach (RawHeaderField field in parsed.Headers)
        {
            context.AddHeader(field.Name.Span, field.Value.Span);
        }
        context.AppendBody(parsed.Body.Span);
        return await context.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The key record at <paramref name="name"/>, from the cache or DNS.</summary>
    internal async Task<DkimKeyRecordResult> GetKeyAsync(string name, CancellationToken cancellationToken)
    {
        bool hit = KeyCache.TryGet(name, out DkimKeyRecordResult cached);
        Options.KeyCacheObserver?.KeyLookup(hit);
        if (hit)
        {
            return cached;
        }
        DkimKeyRecordResult result = await DkimKeyRecordLookup.FetchAsync(_resolver, name, cancellationToken)
            .ConfigureAwait(false);
        KeyCache.Set(name, result);
        return result;
    }
}
