using System.Net;
using System.Text;
using Milter.Commands;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;
using Milter.Reporting;

namespace Milter.Filter;

/// <summary>
/// The checks of one inbound message: SPF started at MAIL FROM (its DNS work overlaps the rest of the
/// transaction), DKIM fed as the message streams, both completed at end of message. Turns the results into
/// Authentication-Results clauses and verification-log entries.
/// </summary>
internal sealed class InboundChecks : IDisposable
{
    private readonly FilterServices _services;
    private readonly CancellationTokenSource _cts = new();
    private DkimVerifierContext? _dkim;
    private Task<SpfResult>? _spf;
    private string? _mailFrom;
    private string? _helo;

    public InboundChecks(FilterServices services) => _services = services;

    public SpfResult? SpfResult { get; private set; }
    public DmarcResult? DmarcResult { get; private set; }
    /// <summary>The RFC5322.From author (parsed once by the filter), known from end of headers.</summary>
    public AuthorDomain? Author { get; private set; }
    public IReadOnlyList<DkimVerificationResult> DkimResults { get; private set; } = [];

    /// <summary>Starts check_host() for the MAIL FROM identity (postmaster@HELO for the null sender).</summary>
    public void StartSpf(IPAddress? client, string mailFrom, string? helo)
    {
        _mailFrom = mailFrom;
        _helo = helo;
        if (!_services.Options.Spf.Enabled || client is null) return;
        _spf = _services.Spf.CheckMailFromAsync(client, mailFrom, helo ?? "", _cts.Token);
    }

    /// <summary>The SPF result, waiting for it if it is still running.</summary>
    public async Task<SpfResult?> GetSpfAsync(CancellationToken cancellationToken)
    {
        if (SpfResult is not null || _spf is null) return SpfResult;
        SpfResult = await _spf.WaitAsync(cancellationToken);
        return SpfResult;
    }

    public void StartDkim(IReadOnlyList<(string Name, byte[] Value)> headers, AuthorDomain author)
    {
        Author = author;
        _dkim = _services.Verifier.CreateContext();
        foreach (var (name, value) in headers)
            _dkim.AddHeader(Encoding.ASCII.GetBytes(name), value);
    }

    public void AppendBody(ReadOnlySpan<byte> chunk) => _dkim?.AppendBody(chunk);

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
        var dkim = _dkim is null ? Task.FromResult<IReadOnlyList<DkimVerificationResult>>([]) : _dkim.CompleteAsync(linked.Token);
        await GetSpfAsync(linked.Token);
        DkimResults = await dkim;
        if (_services.Options.Dmarc.Enabled && Author is { Status: AuthorStatus.Ok, Domain: { } domain })
        {
            var dkimInputs = DkimResults.Select(DmarcDkimInput.From).ToList();
            // RFC 9989 4.4: SPF aligns through the MAIL FROM domain (or HELO for the null sender) it checked,
            // not through a redirect= target.
            var spfInput = SpfResult is { } spf && !string.IsNullOrEmpty(spf.IdentityDomain) ? new DmarcSpfInput(spf.IdentityDomain, spf.Code) : null;
            DmarcResult = await _services.Dmarc.EvaluateAsync(domain, dkimInputs, spfInput, linked.Token);
        }
    }

    /// <summary>RFC 8601 clauses: spf (smtp.mailfrom or, for the null sender, smtp.helo), then one dkim per signature (or dkim=none).</summary>
    public List<AuthMethodResult> AuthResults()
    {
        var list = new List<AuthMethodResult>();
        if (SpfResult is { } spf)
        {
            var props = new List<AuthResultProperty>();
            if (!string.IsNullOrEmpty(MailFromAddress(_mailFrom)))
                props.Add(new AuthResultProperty("smtp", "mailfrom", MailFromAddress(_mailFrom)!));
            if (!string.IsNullOrEmpty(_helo) && _helo.Length <= 255)
                props.Add(new AuthResultProperty("smtp", "helo", _helo));
            var comment = spf.Code == SpfResultCode.Fail || spf.Code == SpfResultCode.PermError || spf.Code == SpfResultCode.TempError
                ? spf.Reason : null;
            list.Add(new AuthMethodResult("spf", spf.Keyword, Comment: comment, Properties: props));
        }
        list.AddRange(DkimAuthResults.ToClauses(DkimResults));
        if (DmarcResult is { } dmarc)
        {
            list.Add(dmarc.ToAuthMethodResult());
        }
        else if (_services.Options.Dmarc.Enabled && Author is { Status: not AuthorStatus.Ok } bad)
        {
            // No single author domain: DMARC cannot be evaluated (RFC 9989 4.6 leaves the handling to the receiver).
            list.Add(new AuthMethodResult("dmarc", "permerror", Reason: bad.Problem));
        }
        return list;
    }

    public DmarcRecordEntry? DmarcEntry()
        => DmarcResult is { } d ? new DmarcRecordEntry(d.ResultKeyword, d.AuthorDomain, d.Policy?.ToKeyword(), d.Disposition.ToKeyword())
            : Author is { Status: not AuthorStatus.Ok } && _services.Options.Dmarc.Enabled ? new DmarcRecordEntry("permerror", null, null, null) : null;

    public IReadOnlyList<DkimRecordEntry> DkimEntries()
        => DkimResults.Select(r => new DkimRecordEntry(r.ResultKeyword, r.Domain, r.Selector, r.Algorithm, r.HeaderI, r.Reason)).ToList();

    public SpfRecordEntry? SpfEntry()
        => SpfResult is { } s ? new SpfRecordEntry(s.Keyword, s.Domain, s.Explanation, s.Reason) : null;

    /// <summary>The address inside MAIL FROM's angle brackets ("" for the null sender).</summary>
    public static string? MailFromAddress(string? mailFrom)
    {
        if (mailFrom is null) return null;
        var t = mailFrom.Trim();
        if (t.StartsWith('<') && t.EndsWith('>')) t = t[1..^1];
        return t;
    }

    public void Dispose()
    {
        _cts.Cancel();
        _cts.Dispose();
        _dkim?.Dispose();
    }
}
