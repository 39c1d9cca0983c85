using System.Text;
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
    private readonly Task<SpfResult>? _spfTask;
    private SpfResult? _spf;
    private int _fromCount;
    private byte[]? _firstFrom;

    internal InboundMessage(InboundPipeline pipeline, SmtpEnvelope envelope)
    {
        _pipeline = pipeline;
        _envelope = envelope;
        _dkim = pipeline.Verifier.CreateContext();
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
        _dkim.AddHeader(Encoding.ASCII.GetBytes(name), value);
    }

    public void AppendBody(ReadOnlySpan<byte> chunk) => _dkim.AppendBody(chunk);

    /// <summary>Completes DKIM and SPF, then evaluates DMARC. Throws only <see cref="OperationCanceledException"/>.</summary>
    public async Task<InboundResult> CompleteAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
        var dkimTask = _dkim.CompleteAsync(linked.Token);
        var spf = await GetSpfAsync(linked.Token);
        var dkim = await dkimTask;
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
            }
            else
            {
                dmarc = new DmarcResult(DmarcResultCode.PermError, "", null, null, null, null, DmarcDisposition.None,
                    false, false, false, author.Problem, null);
            }
        }
        var clauses = new List<AuthMethodResult>();
        if (spf is not null) clauses.Add(InboundClauses.Spf(spf, _envelope));
        clauses.AddRange(InboundClauses.Dkim(dkim));
        if (dmarc is not null) clauses.Add(InboundClauses.Dmarc(dmarc, author));
        return new InboundResult(_envelope, spf, dkim, author, dmarc, clauses, _pipeline.AuthservId);
    }

    public void Dispose()
    {
        _cts.Cancel();
        _cts.Dispose();
        _dkim.Dispose();
    }
}
