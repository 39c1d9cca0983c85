using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Inbound;

/// <summary>Settings of an <see cref="InboundPipeline"/>: a null <see cref="Spf"/> or <see cref="Dmarc"/> turns that check off.</summary>
public sealed record InboundPipelineOptions
{
    public required string AuthservId { get; init; }
    public SpfOptions? Spf { get; init; } = new();
    public DkimVerifierOptions Dkim { get; init; } = new();
    public DmarcOptions? Dmarc { get; init; } = new();

    /// <summary>Validate the ARC chain (RFC 8617 5.2), in the same body pass as DKIM.</summary>
    public bool Arc { get; init; } = true;

    /// <summary>Also compute the relaxed body hash an ARC seal needs (<see cref="InboundMessage.RelaxedBodyHash"/>),
    /// shared with DKIM and ARC when they use the same one.</summary>
    public bool SealBodyHash { get; init; }

    /// <summary>ARC sealers whose passing chain overrides a DMARC failure's disposition (<see cref="ArcTrust"/>).</summary>
    public IReadOnlyList<string> TrustedArcSealers { get; init; } = [];
}

/// <summary>
/// The inbound evaluation of mail, the one for the daemon and the `check` command alike: SPF for the MAIL FROM
/// identity (postmaster@HELO for the null reverse-path, RFC 7208 2.4), every DKIM signature and the ARC chain
/// (RFC 8617, in the same body pass), then DMARC for the
/// RFC5322.From domain with the DKIM and SPF results as alignment inputs (RFC 9989 4.4), and the
/// Authentication-Results clauses (RFC 8601). SPF starts with the envelope, DKIM is fed as the message
/// streams, so memory does not grow with the body. Knows nothing of the milter protocol.
/// </summary>
public sealed class InboundPipeline
{
    public InboundPipeline(IDnsResolver dns, InboundPipelineOptions options, TimeProvider time)
    {
        AuthservId = options.AuthservId;
        Spf = options.Spf is null ? null : new SpfChecker(dns, options.Spf, time);
        Verifier = new DkimVerifier(dns, options.Dkim, time);
        Dmarc = options.Dmarc is null ? null : new DmarcEvaluator(dns, options.Dmarc);
        VerifyArc = options.Arc;
        WantsSealBodyHash = options.SealBodyHash;
        TrustedArcSealers = options.TrustedArcSealers;
    }

    /// <summary>The authserv-id of the Authentication-Results (checked when it is written, RFC 8601 2.2).</summary>
    public string AuthservId { get; }
    internal SpfChecker? Spf { get; }
    internal DkimVerifier Verifier { get; }
    internal DmarcEvaluator? Dmarc { get; }
    internal bool VerifyArc { get; }
    internal bool WantsSealBodyHash { get; }
    internal IReadOnlyList<string> TrustedArcSealers { get; }

    /// <summary>Starts one message: its SPF check starts now (its DNS work overlaps the rest of the transaction).
    /// Feed the header fields, then the body, then <see cref="InboundMessage.CompleteAsync"/>.</summary>
    public InboundMessage Start(SmtpEnvelope envelope) => new(this, envelope);

    /// <summary>The whole evaluation of a message read from <paramref name="message"/> (CRLF line ends): the
    /// header is read up to the empty line (at most <see cref="MaxHeaderBytes"/>), the body streamed through.</summary>
    public async Task<InboundResult> EvaluateAsync(SmtpEnvelope envelope, Stream message, CancellationToken ct)
    {
        using var inbound = Start(envelope);
        var buffer = new byte[64 * 1024];
        var header = new MemoryStream();
        int bodyStart = -1, n;
        while (bodyStart < 0 && (n = await message.ReadAsync(buffer, ct)) > 0)
        {
            header.Write(buffer, 0, n);
            bodyStart = BodyStart(header.GetBuffer().AsSpan(0, (int)header.Length));
            if (bodyStart < 0 && header.Length > MaxHeaderBytes)
                throw new InvalidDataException($"the message header is larger than {MaxHeaderBytes} bytes");
        }
        var held = header.GetBuffer().AsMemory(0, (int)header.Length);
        var parsed = RawMessageParser.Parse(bodyStart < 0 ? held : held[..bodyStart]);
        foreach (var field in parsed.Headers)
            inbound.AddHeader(field.NameString, field.Value.Span);
        if (bodyStart >= 0)
        {
            inbound.AppendBody(held.Span[bodyStart..]);
            while ((n = await message.ReadAsync(buffer, ct)) > 0)
                inbound.AppendBody(buffer.AsSpan(0, n));
        }
        return await inbound.CompleteAsync(ct);
    }

    /// <summary>Largest header <see cref="EvaluateAsync"/> reads (the milter's own cap).</summary>
    public const int MaxHeaderBytes = 1024 * 1024;

    /// <summary>Where the body starts (just past the empty line ending the header), or -1 when not yet seen.</summary>
    private static int BodyStart(ReadOnlySpan<byte> held)
    {
        if (held.StartsWith("\r\n"u8)) return 2;
        var end = held.IndexOf("\n\r\n"u8);
        return end < 0 ? -1 : end + 3;
    }
}
