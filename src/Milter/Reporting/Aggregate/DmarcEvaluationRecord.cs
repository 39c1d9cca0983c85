using System.Net;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Spf;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// What one message's DMARC evaluation contributes to the aggregate reports (RFC 9990): one row of the report store.
/// Values use the report's vocabulary (RFC 9990 XML), so the report writer copies them as they are.
/// </summary>
public sealed record DmarcEvaluationRecord
{
    /// <summary>The most DKIM signatures kept per message (RFC 9990: at most 100 per row).</summary>
    public const int MaxDkim = 100;
    private const int MaxHumanResult = 200;

    public DateTimeOffset Time { get; init; }
    /// <summary>The connecting IP (IPv4-mapped IPv6 addresses given as IPv4).</summary>
    public required string SourceIp { get; init; }
    /// <summary>The RFC5322.From domain (A-labels, lower case).</summary>
    public required string HeaderFrom { get; init; }
    /// <summary>The RFC5321.MailFrom domain; empty for the null reverse-path (RFC 9990 allows an empty element).</summary>
    public string EnvelopeFrom { get; init; } = "";
    /// <summary>The envelope recipient domain, when known.</summary>
    public string? EnvelopeTo { get; init; }
    public required DmarcPublishedPolicy Policy { get; init; }
    /// <summary>pass, fail, temperror or permerror (the DMARC result; kept for statistics, not an XML field).</summary>
    public string Result { get; init; } = "fail";
    /// <summary>What was applied: none, pass (DMARC passed under an enforcing policy), quarantine or reject.</summary>
    public string Disposition { get; init; } = "none";
    /// <summary>policy_evaluated/dkim: a DKIM signature passed and is aligned.</summary>
    public bool DkimAligned { get; init; }
    /// <summary>policy_evaluated/spf: SPF passed and its domain is aligned.</summary>
    public bool SpfAligned { get; init; }
    public IReadOnlyList<DmarcPolicyReason> Reasons { get; init; } = [];
    /// <summary>Raw DKIM results (auth_results), not interpreted for DMARC.</summary>
    public IReadOnlyList<DmarcDkimAuth> Dkim { get; init; } = [];
    /// <summary>The raw SPF result; null when SPF was not checked.</summary>
    public DmarcSpfAuth? Spf { get; init; }

    /// <summary>
    /// The record for one evaluated message, or null when no DMARC policy applied (no record found, so nothing to
    /// report). <paramref name="applied"/> is what the milter actually did when it differs from what the policy asked
    /// (enforcement off, or a local override): it becomes the disposition, with a local_policy reason.
    /// </summary>
    /// <param name="time">when the message was evaluated</param>
    /// <param name="clientAddress">the SMTP client</param>
    /// <param name="mailFrom">MAIL FROM as given (with or without angle brackets; empty for the null sender)</param>
    /// <param name="recipient">one envelope recipient (address or domain), or null</param>
    /// <param name="dmarc">the engine's result</param>
    /// <param name="dkim">every checked DKIM signature</param>
    /// <param name="spf">the SPF result (MAIL FROM, or HELO for the null sender); null when not checked</param>
    /// <param name="applied">the disposition actually applied, when not the one the policy asked for</param>
    public static DmarcEvaluationRecord? From(DateTimeOffset time, IPAddress? clientAddress, string? mailFrom, string? recipient,
        DmarcResult dmarc, IReadOnlyList<DkimVerificationResult> dkim, SpfResult? spf, DmarcDisposition? applied = null)
    {
        ArgumentNullException.ThrowIfNull(dmarc);
        if (dmarc.Record is not { } record || dmarc.PolicyDomain is null || dmarc.Policy is null)
            return null;
        var reasons = new List<DmarcPolicyReason>();
        var asked = dmarc.Disposition;
        var done = applied ?? asked;
        if (dmarc.Result == DmarcResultCode.Fail && dmarc.Policy.Value != DmarcPolicy.None)
        {
            // RFC 9990: when the disposition differs from the published policy, say why.
            if (dmarc.Testing && (int)asked < (int)dmarc.Policy.Value)
                reasons.Add(new DmarcPolicyReason("policy_test_mode", "t=y"));
            if (dmarc.SampledOut)
                reasons.Add(new DmarcPolicyReason("other", $"sampled_out (pct={record.Percent})"));
        }
        // RFC 8617 7.2.1: a trusted ARC chain lifted the disposition; the report says so with the chain.
        if (dmarc.ArcOverride is { } arc)
            reasons.Add(new DmarcPolicyReason("local_policy", arc));
        if (done != asked)
            reasons.Add(new DmarcPolicyReason("local_policy", $"policy asked for {asked.ToKeyword()}, applied {done.ToKeyword()}"));

        string disposition = dmarc.Result == DmarcResultCode.Pass
            ? (dmarc.Policy.Value == DmarcPolicy.None ? "none" : "pass")
            : done.ToKeyword();
        return new DmarcEvaluationRecord
        {
            Time = time,
            SourceIp = SourceIpText(clientAddress),
            HeaderFrom = dmarc.AuthorDomain,
            EnvelopeFrom = DomainOf(mailFrom) ?? "",
            EnvelopeTo = DomainOf(recipient),
            Policy = DmarcPublishedPolicy.From(dmarc.PolicyDomain, record, dmarc.DiscoveryMethod),
            Result = dmarc.ResultKeyword,
            Disposition = disposition,
            DkimAligned = dmarc.DkimAligned,
            SpfAligned = dmarc.SpfAligned,
            Reasons = reasons,
            Dkim = dkim.Take(MaxDkim).Select(r => new DmarcDkimAuth(
                r.Domain, r.Selector, r.ResultKeyword,
                // Only the signature that made the DMARC pass is known to be aligned; used to order rows only.
                r.IsPass && (string.Equals(DmarcDomain.Normalize(r.Domain), dmarc.AlignedDkimDomain, StringComparison.Ordinal)
                             || string.Equals(DmarcDomain.Normalize(r.Domain), dmarc.AuthorDomain, StringComparison.Ordinal)),
                r.IsPass ? null : Bound(r.Reason))).ToList(),
            Spf = spf is null ? null : new DmarcSpfAuth(spf.Domain, spf.Identity == SpfIdentity.Helo ? "helo" : "mfrom", spf.Keyword,
                spf.Code == SpfResultCode.Pass ? null : Bound(spf.Reason)),
        };
    }

    /// <summary>Text of an address for source_ip: IPv4-mapped IPv6 becomes IPv4; unknown is "0.0.0.0".</summary>
    public static string SourceIpText(IPAddress? address) =>
        address is null ? "0.0.0.0" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    /// <summary>The normalized domain of an address ("a@b.example" or "&lt;a@b.example&gt;") or of a bare domain.</summary>
    public static string? DomainOf(string? addressOrDomain)
    {
        if (string.IsNullOrWhiteSpace(addressOrDomain))
            return null;
        var t = addressOrDomain.Trim();
        if (t.StartsWith('<') && t.EndsWith('>'))
            t = t[1..^1];
        int at = t.LastIndexOf('@');
        return DmarcDomain.Normalize(at >= 0 ? t[(at + 1)..] : t);
    }

    private static string? Bound(string? text) =>
        text is null ? null : text.Length <= MaxHumanResult ? text : text[..MaxHumanResult];
}

/// <summary>policy_published: the record that applied, with defaults filled in (RFC 9990: "unspecified tags have
/// their default values"). <see cref="Pct"/> only in RFC 7489 (psl) mode; <see cref="Np"/> only in RFC 9989 mode.</summary>
public sealed record DmarcPublishedPolicy(
    string Domain,
    string DiscoveryMethod,
    string P,
    string? Sp,
    string? Np,
    string Adkim,
    string Aspf,
    bool Testing,
    string Fo,
    int? Pct,
    IReadOnlyList<string> Rua)
{
    public static DmarcPublishedPolicy From(string policyDomain, DmarcRecord record, string discoveryMethod)
    {
        var mode = discoveryMethod == "psl" ? DmarcMode.Rfc7489 : DmarcMode.Rfc9989;
        var set = record.EffectivePolicies(mode) ?? new DmarcPolicySet(DmarcPolicy.None, DmarcPolicy.None, DmarcPolicy.None, true);
        return new DmarcPublishedPolicy(
            policyDomain,
            discoveryMethod,
            set.P.ToKeyword(),
            set.Sp.ToKeyword(),
            mode == DmarcMode.Rfc9989 ? set.Np.ToKeyword() : null,
            record.DkimAlignment.ToKeyword(),
            record.SpfAlignment.ToKeyword(),
            mode == DmarcMode.Rfc9989 && record.Testing,
            record.FailureOptions,
            mode == DmarcMode.Rfc7489 ? record.Percent : null,
            record.AggregateReportUris.Select(u => u.Uri).ToList());
    }
}

/// <summary>auth_results/dkim: d=, s=, the raw result; <see cref="Aligned"/> orders signatures when there are too many.</summary>
public sealed record DmarcDkimAuth(string Domain, string Selector, string Result, bool Aligned, string? HumanResult = null);

/// <summary>auth_results/spf: the checked domain, its scope (mfrom or helo) and the raw result.</summary>
public sealed record DmarcSpfAuth(string Domain, string Scope, string Result, string? HumanResult = null);

/// <summary>policy_evaluated/reason: local_policy, mailing_list, other, policy_test_mode or trusted_forwarder.</summary>
public sealed record DmarcPolicyReason(string Type, string? Comment = null);
