using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Inbound;

/// <summary>The checks of one inbound message (<see cref="InboundPipeline.Start"/>): header fields, then body
/// chunks of any size, then <see cref="CompleteAsync"/> once.</summary>
public sealed class InboundMessage : IDisposable
{
    private readonly InboundPipeline _pipeline;
    private readonly SmtpEnvelope _envelope;
    private readonly CancellationTokenSource _cts = new();
    private readonly DkimVerifierContext _dkim;
    private readonly ArcVerifierContext? _arc;
#pragma warning disable CA2213 // owned (and disposed) by _dkim, which shares it
    private DkimBodyHasher? _sealBody;
#pragma warning restore CA2213
    private readonly Task<SpfResult>? _spfTask;
    private SpfResult? _spf;
    private int _fromCount;
    private byte[]? _firstFrom;

    internal InboundMessage(InboundPipeline pipeline, SmtpEnvelope envelope)
    {
        _pipeline = pipeline;
        _envelope = envelope;
        _dkim = pipeline.Verifier.CreateContext();
        if (pipeline.VerifyArc) _arc = new ArcVerifierContext(_dkim);
        // RFC 7208 2.4: the MAIL FROM identity; for the null reverse-path, postmaster@HELO (SpfChecker does that).
        if (pipeline.Spf is { } spf && envelope.ClientAddress is { } client)
            _spfTask = spf.CheckMailFromAsync(client, envelope.MailFrom, envelope.Helo ?? "", _cts.Token);
    }

    /// <summary>The SPF result, waiting for it if it is still running (null when SPF is not checked).</summary>
    public async Task<SpfResult?> GetSpfAsync(CancellationToken cancellationToken)
    {
        if (_spf is not null || _spfTask is null) return _spf;
        _spf = await _spfTask.WaitAsync(cancellationToken);
        return _spf;
    }

    /// <summary>One header field: its name and the exact bytes after the colon (CRLF folds).</summary>
    public void AddHeader(string name, ReadOnlySpan<byte> value)
    {
        if (AuthorDomain.IsFromField(name))
        {
            _fromCount++;
            _firstFrom ??= value.ToArray();
        }
        // The name's bytes on the stack: a new array per header field otherwise (issue 16).
        Span<byte> nameBytes = name.Length <= 256 ? stackalloc byte[name.Length] : new byte[name.Length];
        Encoding.ASCII.GetBytes(name, nameBytes);
        _dkim.AddHeader(nameBytes, value);
    }

    public void AppendBody(ReadOnlySpan<byte> chunk)
    {
        EndOfHeaders();
        _dkim.AppendBody(chunk);
    }

    private bool _headersEnded;

    /// <summary>Once, before the body: ARC reads its fields and asks for its body hashes (shared with DKIM), and a
    /// seal's relaxed body hash is asked for when sealing is wanted.</summary>
    private void EndOfHeaders()
    {
        if (_headersEnded) return;
        _headersEnded = true;
        _arc?.EndOfHeaders();
        if (_pipeline.WantsSealBodyHash) _sealBody = _dkim.SharedBodyHasher(DkimCanonicalization.Relaxed, -1);
    }

    /// <summary>SHA-256 of the relaxed canonical body, for an ARC seal (RFC 8617 5.1); null unless the pipeline was
    /// told a seal may be made (<see cref="InboundPipelineOptions.SealBodyHash"/>). Valid after <see cref="CompleteAsync"/>.</summary>
    public byte[]? RelaxedBodyHash => _sealBody?.Complete();

    /// <summary>Completes DKIM and SPF, then evaluates DMARC. Throws only <see cref="OperationCanceledException"/>.</summary>
    public async Task<InboundResult> CompleteAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
        EndOfHeaders();
        var dkimTask = _dkim.CompleteAsync(linked.Token);
        var arcTask = _arc?.CompleteAsync(linked.Token);
        var spf = await GetSpfAsync(linked.Token);
        var dkim = await dkimTask;
        var arc = arcTask is null ? ArcChainResult.NoChain : await arcTask;
        var author = AuthorDomain.FromFields(_fromCount, _firstFrom);
        DmarcResult? dmarc = null;
        if (_pipeline.Dmarc is { } evaluator)
        {
            if (author is { Status: AuthorStatus.Ok, Domain: { } domain })
            {
                // RFC 9989 4.4 (RFC 7489 4.2): SPF aligns through the identity it checked, the MAIL FROM domain or the
                // HELO for the null sender, never a redirect= target. Given whenever SPF ran (a none or fail is
                // reported as such); null only when SPF was not checked.
                var spfInput = spf is null ? null : new DmarcSpfInput(spf.IdentityDomain, spf.Code);
                dmarc = await evaluator.EvaluateAsync(domain, dkim.Select(DmarcDkimInput.From).ToList(), spfInput, linked.Token);
                // RFC 8617 7.2.1: the result stays fail; a trusted chain only lifts the disposition.
                if (dmarc is { Result: DmarcResultCode.Fail } failed && ArcTrust.Override(arc, domain, _pipeline.TrustedArcSealers, evaluator.Psl) is { } why)
                    dmarc = failed with { Disposition = DmarcDisposition.None, ArcOverride = why };
            }
            else
            {
                dmarc = new DmarcResult(DmarcResultCode.PermError, "", null, null, null, null, DmarcDisposition.None,
                    false, false, false, author.Problem, null);
            }
        }
        var clauses = new List<AuthMethodResult>();
        if (arc.Result != ArcResult.None) clauses.Add(InboundClauses.Arc(arc, _envelope));
        if (spf is not null) clauses.Add(InboundClauses.Spf(spf, _envelope));
        clauses.AddRange(InboundClauses.Dkim(dkim));
        if (dmarc is not null) clauses.Add(InboundClauses.Dmarc(dmarc, author));
        return new InboundResult(_envelope, spf, dkim, author, dmarc, clauses, _pipeline.AuthservId) { Arc = arc };
    }

    public void Dispose()
    {
        _cts.Cancel();
        _cts.Dispose();
        _dkim.Dispose();
    }
}
