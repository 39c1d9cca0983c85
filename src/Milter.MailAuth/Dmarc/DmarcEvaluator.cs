using System.Text;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Dmarc;

/// <summary>
/// DMARC for one message: policy discovery, identifier alignment, result and disposition (RFC 9989 by default,
/// RFC 7489 in compatibility mode). Thread-safe; create one per configuration and call it per message.
/// Never throws for bad DNS data: errors become temperror/permerror results.
/// </summary>
public sealed class DmarcEvaluator
{
    private readonly IDnsResolver _dns;
    private readonly DmarcOptions _options;
    private readonly Lazy<PublicSuffixList> _psl;
    private readonly Random _random;

    /// <param name="psl">the list for RFC 7489 mode; default: <see cref="DmarcOptions.PublicSuffixListPath"/> or the shipped copy</param>
    /// <param name="random">the pct draw (RFC 7489 mode); default <see cref="Random.Shared"/></param>
    public DmarcEvaluator(IDnsResolver dns, DmarcOptions options, PublicSuffixList? psl = null, Random? random = null)
    {
        _dns = dns;
        _options = options;
        _random = random ?? Random.Shared;
        _psl = psl is not null ? new(psl)
            : options.PublicSuffixListPath is { } path ? new(() => PublicSuffixList.Load(path, options.IncludePrivateSuffixes))
            : new(() => PublicSuffixList.Default);
    }

    public DmarcOptions Options => _options;

    /// <summary>The record that applies to a domain, where it was found and the domain's Organizational Domain
    /// (the `milter dmarc --domain` view).</summary>
    public async Task<DmarcRecordLookup> DiscoverAsync(string authorDomain, CancellationToken ct)
    {
        var author = DmarcDomain.Normalize(authorDomain);
        if (author is null)
            return DmarcDiscovery.Invalid(authorDomain).Lookup;
        var discovery = await DiscoverCoreAsync(author, completeWalk: true, ct);
        if (discovery.Lookup.OrganizationalDomain is null && discovery.Lookup.Status == DmarcLookupStatus.Found)
            await discovery.AuthorOrganizationalDomainAsync(_psl.Value, ct);
        return discovery.Lookup;
    }

    /// <summary>The Organizational Domain of any name: RFC 9989 4.10.2 via a tree walk, or the PSL in RFC 7489
    /// mode. Null for an invalid name or a transient DNS error.</summary>
    public async Task<string?> GetOrganizationalDomainAsync(string domain, CancellationToken ct)
    {
        var name = DmarcDomain.Normalize(domain);
        if (name is null)
            return null;
        if (_options.Mode == DmarcMode.Rfc7489)
            return _psl.Value.GetOrganizationalDomain(name);
        var walk = new DmarcTreeWalk(_dns, name);
        await walk.CompleteAsync(ct);
        return walk.TempError is null ? walk.OrganizationalDomain() : null;
    }

    private Task<DmarcDiscovery> DiscoverCoreAsync(string author, bool completeWalk, CancellationToken ct) =>
        _options.Mode == DmarcMode.Rfc7489
            ? DmarcDiscovery.PublicSuffixAsync(_dns, _psl.Value, author, ct)
            : DmarcDiscovery.TreeWalkAsync(_dns, author, completeWalk, ct);

    /// <summary>
    /// Evaluates DMARC for a message from <paramref name="authorDomain"/> (the RFC5322.From domain) given every
    /// checked DKIM signature and the SPF result (null when SPF was not checked).
    /// </summary>
    public async Task<DmarcResult> EvaluateAsync(string authorDomain, IReadOnlyList<DmarcDkimInput> dkim, DmarcSpfInput? spf,
        CancellationToken ct)
    {
        string method = _options.Mode == DmarcMode.Rfc7489 ? "psl" : "treewalk";
        var author = DmarcDomain.Normalize(authorDomain);
        if (author is null)
            return Simple(DmarcResultCode.PermError, authorDomain ?? "", $"\"{authorDomain}\" is not a valid author domain", method);

        var discovery = await DiscoverCoreAsync(author, completeWalk: false, ct);
        var lookup = discovery.Lookup;
        switch (lookup.Status)
        {
            case DmarcLookupStatus.TempError:
                return Simple(DmarcResultCode.TempError, author, lookup.Reason, method);
            case DmarcLookupStatus.PermError:
                return Simple(DmarcResultCode.PermError, author, lookup.Reason, method);
            case DmarcLookupStatus.None:
                return Simple(DmarcResultCode.None, author, lookup.Reason, method) with { PolicyDomain = lookup.RecordDomain, Record = lookup.Record };
        }

        var record = lookup.Record!;
        var policies = discovery.Policies!;
        var alignment = new DmarcAlignment(this, discovery, author, ct);
        var notes = new StringBuilder();

        string? dkimAlignedDomain = null;
        var checkedDomains = new HashSet<string>(StringComparer.Ordinal);
        foreach (var signature in dkim)
        {
            if (!signature.Passed || DmarcDomain.Normalize(signature.Domain) is not { } d || !checkedDomains.Add(d))
                continue;
            if (await alignment.CheckAsync(d, record.DkimAlignment))
            {
                dkimAlignedDomain = d;
                break;
            }
        }
        bool dkimAligned = dkimAlignedDomain is not null;
        bool spfAligned = false;
        if (!dkimAligned && spf is { Result: SpfResultCode.Pass } && DmarcDomain.Normalize(spf.Domain) is { } spfDomain)
            spfAligned = await alignment.CheckAsync(spfDomain, record.SpfAlignment);

        DmarcResultCode result;
        if (dkimAligned)
        {
            result = DmarcResultCode.Pass;
            notes.Append($"DKIM d={dkimAlignedDomain} aligned ({record.DkimAlignment.ToKeyword()})");
        }
        else if (spfAligned)
        {
            result = DmarcResultCode.Pass;
            notes.Append($"SPF {DmarcDomain.Normalize(spf!.Domain)} aligned ({record.SpfAlignment.ToKeyword()})");
        }
        else if (alignment.Undetermined is not null)
        {
            return Simple(DmarcResultCode.TempError, author, "alignment could not be determined: " + alignment.Undetermined, method) with
            {
                PolicyDomain = lookup.RecordDomain,
                Record = record,
            };
        }
        else
        {
            result = DmarcResultCode.Fail;
            notes.Append("no aligned identifier: ").Append(DescribeIdentifiers(dkim, spf, record));
        }

        // Policy selection (RFC 9989 4.10.1): p at the author domain, else sp for an existing author domain and np
        // for a non-existent one. The existence check is made only when it can change the outcome.
        string tag;
        DmarcPolicy policy;
        if (lookup.Source == DmarcRecordSource.AuthorDomain || policies.ActingAsNone)
        {
            tag = "p";
            policy = policies.P;
        }
        else
        {
            bool nonExistent = false;
            if (result == DmarcResultCode.Fail && policies.Np != policies.Sp)
            {
                var exists = await AuthorExistsAsync(author, ct);
                if (exists is null)
                    return Simple(DmarcResultCode.TempError, author, $"existence check of {author} for np failed", method) with
                    {
                        PolicyDomain = lookup.RecordDomain,
                        Record = record,
                    };
                nonExistent = !exists.Value;
            }
            if (nonExistent)
            {
                tag = record.NonExistentPolicy is not null ? "np" : record.SubdomainPolicy is not null ? "sp" : "p";
                policy = policies.Np;
            }
            else
            {
                tag = record.SubdomainPolicy is not null ? "sp" : "p";
                policy = policies.Sp;
            }
        }

        var disposition = DmarcDisposition.None;
        bool testing = _options.Mode == DmarcMode.Rfc9989 && record.Testing;
        bool sampledOut = false;
        if (result == DmarcResultCode.Fail)
        {
            var effective = policy;
            if (testing && effective != DmarcPolicy.None)
            {
                effective = effective.Lower(); // RFC 9989 4.7 t=y: apply the next lower policy (policy_test_mode)
                notes.Append("; t=y lowers ").Append(policy.ToKeyword()).Append(" to ").Append(effective.ToKeyword());
            }
            if (_options.Mode == DmarcMode.Rfc7489 && record.Percent < 100 && effective != DmarcPolicy.None
#pragma warning disable CA5394 // RFC 7489 6.6.4 pct sampling needs a fair draw, not an unpredictable one (and tests seed it)
                && _random.Next(100) >= record.Percent)
#pragma warning restore CA5394
            {
                sampledOut = true; // RFC 7489 6.6.4: not selected by pct, apply the next less strict policy
                notes.Append($"; pct={record.Percent} sampled out, ").Append(effective.ToKeyword()).Append(" lowered to ").Append(effective.Lower().ToKeyword());
                effective = effective.Lower();
            }
            disposition = effective.ToDisposition();
        }
        if (lookup.Reason is not null)
            notes.Append("; ").Append(lookup.Reason);

        return new DmarcResult(result, author, lookup.RecordDomain, discovery.Lookup.OrganizationalDomain, policy, tag, disposition,
            testing, dkimAligned, spfAligned, notes.ToString(), record)
        {
            SampledOut = sampledOut,
            DiscoveryMethod = method,
            AlignedDkimDomain = dkimAlignedDomain,
        };
    }

    /// <summary>Whether the author domain exists (RFC 9989 np, RFC 8020: NXDOMAIN means nothing exists at or below
    /// the name; NODATA means it exists). Null on a transient DNS error.</summary>
    private async Task<bool?> AuthorExistsAsync(string author, CancellationToken ct)
    {
        var answer = await _dns.GetAddressesAsync(author, false, ct);
        if (answer.Status == DnsStatus.NxDomain) return false;
        if (answer.Status == DnsStatus.NoError) return true;
        return null;
    }

    internal Task<string?> OrganizationalDomainOfIdentifierAsync(string name, CancellationToken ct) =>
        GetOrganizationalDomainAsync(name, ct);

    internal PublicSuffixList Psl => _psl.Value;

    private static DmarcResult Simple(DmarcResultCode code, string author, string? reason, string method) =>
        new(code, author, null, null, null, null, DmarcDisposition.None, false, false, false, reason, null) { DiscoveryMethod = method };

    private static string DescribeIdentifiers(IReadOnlyList<DmarcDkimInput> dkim, DmarcSpfInput? spf, DmarcRecord record)
    {
        var sb = new StringBuilder();
        int shown = 0;
        foreach (var s in dkim)
        {
            if (shown++ == 4) { sb.Append(", ..."); break; }
            if (sb.Length > 0) sb.Append(", ");
            sb.Append("DKIM d=").Append(s.Domain).Append(s.Passed ? $" not aligned (adkim={record.DkimAlignment.ToKeyword()})" : " did not pass");
        }
        if (sb.Length > 0) sb.Append(", ");
        if (spf is null) sb.Append("SPF not checked");
        else if (spf.Result == SpfResultCode.Pass) sb.Append("SPF ").Append(spf.Domain).Append($" not aligned (aspf={record.SpfAlignment.ToKeyword()})");
        else sb.Append("SPF ").Append(spf.Result.ToKeyword());
        if (dkim.Count == 0) sb.Insert(0, "no DKIM signature, ");
        return sb.ToString();
    }
}
