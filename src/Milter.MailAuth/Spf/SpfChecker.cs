using System.Net;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Message;

namespace Milter.MailAuth.Spf;

/// <summary>
/// SPF (RFC 7208) for the MAIL FROM and HELO identities. Never throws for bad input or bad DNS data; only the
/// caller's own cancellation propagates. Each check has its own time budget (<see cref="SpfOptions.CheckTimeout"/>);
/// running out gives temperror.
/// </summary>
public sealed class SpfChecker
{
    private readonly IDnsResolver _dns;
    private readonly SpfOptions _options;
    private readonly TimeProvider _time;
    private readonly MacroString _defaultExplanation;

    public SpfChecker(IDnsResolver dns, SpfOptions options, TimeProvider time)
    {
        options.ThrowIfInvalid();
        _dns = dns;
        _options = options;
        _time = time;
        MacroString.TryParse(options.DefaultExplanation, MacroScope.Explanation, out var parsed);
        _defaultExplanation = parsed!;
    }

    /// <summary>check_host() itself (RFC 7208 4): <paramref name="sender"/> is "local@domain" and supplies the
    /// l, o and s macros; <paramref name="domain"/> is the domain whose policy is evaluated.</summary>
    public Task<SpfResult> CheckHostAsync(IPAddress ip, string domain, string sender, string helo, CancellationToken ct)
    {
        var (local, senderDomain) = SplitSender(sender, helo);
        return RunAsync(ip, domain, local, senderDomain, helo, SpfIdentity.MailFrom, sender, ct);
    }

    /// <summary>The MAIL FROM check (RFC 7208 2.4): a null reverse-path ("" or "&lt;&gt;") checks
    /// postmaster@<paramref name="helo"/>; an empty local-part becomes "postmaster" (4.3).</summary>
    public Task<SpfResult> CheckMailFromAsync(IPAddress ip, string mailFrom, string helo, CancellationToken ct)
    {
        var envelope = ReversePath.Address(mailFrom);
        var (local, domain) = SplitSender(envelope, helo);
        return RunAsync(ip, domain, local, domain, helo, SpfIdentity.MailFrom, envelope, ct);
    }

    /// <summary>The HELO check (RFC 7208 2.3): check_host() with &lt;domain&gt; = HELO and
    /// &lt;sender&gt; = postmaster@HELO. A HELO that is not a valid domain name gives none.</summary>
    public Task<SpfResult> CheckHeloAsync(IPAddress ip, string helo, CancellationToken ct)
    {
        helo = helo.Trim();
        return RunAsync(ip, helo, "postmaster", helo, helo, SpfIdentity.Helo, null, ct);
    }

    /// <summary>Splits at the last '@'. Empty sender = postmaster@helo; empty local-part = postmaster;
    /// no '@' = a bare domain with local-part postmaster.</summary>
    private static (string Local, string Domain) SplitSender(string sender, string helo)
    {
        if (sender.Length == 0)
            return ("postmaster", helo.Trim());
        int at = sender.LastIndexOf('@');
        if (at < 0)
            return ("postmaster", sender);
        var local = sender[..at];
        return (local.Length == 0 ? "postmaster" : local, sender[(at + 1)..]);
    }

    private async Task<SpfResult> RunAsync(IPAddress ip, string domain, string local, string senderDomain, string helo,
        SpfIdentity identity, string? envelopeFrom, CancellationToken ct)
    {
        // 5.6: an IPv4-mapped IPv6 client is an IPv4 client.
        if (ip.IsIPv4MappedToIPv6)
            ip = ip.MapToIPv4();
        senderDomain = DnsNames.TrimTrailingDot(senderDomain);
        using var budget = new CancellationTokenSource(_options.CheckTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, budget.Token);
        var evaluation = new SpfEvaluation(_dns, _options, ip, local, senderDomain, helo,
            _time.GetUtcNow().ToUnixTimeSeconds(), linked.Token, ct);
        SpfEvaluation.Outcome outcome;
        try
        {
            outcome = await evaluation.CheckHostAsync(domain, inInclude: false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            outcome = new(SpfResultCode.TempError, DnsNames.TrimTrailingDot(domain),
                $"SPF evaluation exceeded its time budget of {_options.CheckTimeout.TotalSeconds:0.###} s (RFC 7208 4.6.4)");
        }

        var explanation = outcome.Explanation;
        bool isDefault = false;
        if (outcome.Code == SpfResultCode.Fail && explanation is null)
        {
            explanation = _defaultExplanation.Expand(evaluation.Values(outcome.Domain, null));
            isDefault = true;
        }
        return new SpfResult(outcome.Code, outcome.Domain, outcome.Code == SpfResultCode.Fail ? explanation : null,
            outcome.Reason, outcome.Mechanism)
        {
            Identity = identity,
            ClientIp = ip,
            Sender = local + "@" + senderDomain,
            EnvelopeFrom = envelopeFrom,
            Helo = helo,
            ExplanationIsDefault = isDefault,
            DnsLookups = evaluation.DnsLookups,
            VoidLookups = evaluation.VoidLookups,
        };
    }
}
