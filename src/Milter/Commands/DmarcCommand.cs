using System.Text;
using System.Text.Json;
using Milter.Configuration;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;

namespace Milter.Commands;

/// <summary>`milter dmarc --domain D [--json] [--mode rfc9989|rfc7489]` (default: the config's Dmarc:Mode): the DMARC record that applies to D, where
/// policy discovery found it (every name queried), its tags with defaults filled in, D's Organizational Domain and
/// the policy (p, sp or np) that applies to mail from D. A name holding several DMARC records is marked with the
/// rule that applied to it (RFC 9989: discarded, the walk goes on; RFC 7489: discovery stops). Exit 0 when a
/// record applies, 1 when none does, 3 on a temporary DNS failure, 2 for bad usage (an invalid domain included).</summary>
public static class DmarcCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var domain = cl.Require("domain");
        var json = cl.Flag("json");
        var modeText = cl.Get("mode");
        var dns = cl.Get("dns");
        var config = cl.Get("config");

        // The config (--config, or the embedded default with MILTER_ environment) gives Dmarc:Mode and the
        // Public Suffix List the daemon uses; --mode overrides the mode.
        var options = ConfigLoader.Load(config, listen: null, dnsServers: dns);
        var dmarcOptions = options.ToDmarcOptions();
        if (modeText is not null)
        {
            dmarcOptions = dmarcOptions with
            {
                Mode = modeText.ToLowerInvariant() switch
                {
                    "rfc9989" => DmarcMode.Rfc9989,
                    "rfc7489" => DmarcMode.Rfc7489,
                    _ => throw new UsageException($"dmarc: --mode must be rfc9989 or rfc7489, not '{modeText}'"),
                },
            };
        }
        var mode = dmarcOptions.Mode;

        var resolver = CliDns.CreateResolver(options);
        var lookup = await new DmarcEvaluator(resolver, dmarcOptions).DiscoverAsync(domain, CancellationToken.None);
        if (lookup.Status == DmarcLookupStatus.PermError)
            throw new UsageException($"dmarc: --domain '{domain}' is not a valid domain name");
        var applied = lookup.Status == DmarcLookupStatus.Found
            ? await AppliedPolicy.FindAsync(resolver, lookup, mode, CancellationToken.None)
            : null;

        Console.Out.Write(json ? ToJson(lookup, mode, applied) + "\n" : ToText(lookup, mode, applied));
        return lookup.Status switch
        {
            DmarcLookupStatus.Found when applied!.ExistenceUnknown => Program.ExitTemporary,
            DmarcLookupStatus.Found => Program.ExitOk,
            DmarcLookupStatus.TempError => Program.ExitTemporary,
            _ => Program.ExitCheckFailed,
        };
    }

    private static string ToText(DmarcRecordLookup lookup, DmarcMode mode, AppliedPolicy? applied)
    {
        var sb = new StringBuilder();
        sb.Append("domain: ").Append(lookup.Domain).Append('\n');
        sb.Append("discovery: ").Append(lookup.DiscoveryMethod).Append(" (").Append(ModeName(mode)).Append(")\n");
        foreach (var name in lookup.QueriedNames)
        {
            sb.Append("queried: ").Append(name);
            if (lookup.RecordDomain is not null && name == "_dmarc." + lookup.RecordDomain) sb.Append(" (record found)");
            if (lookup.SeveralRecordsAt.Contains(name)) sb.Append(" (several records: ").Append(SeveralRecordsRule(mode)).Append(')');
            sb.Append('\n');
        }
        switch (lookup.Status)
        {
            case DmarcLookupStatus.TempError:
                sb.Append("temperror: ").Append(lookup.Reason).Append('\n');
                return sb.ToString();
            case DmarcLookupStatus.None:
                sb.Append("none: ").Append(lookup.Reason ?? "no DMARC record applies").Append('\n');
                if (lookup.OrganizationalDomain is { } orgNone) sb.Append("organizational domain: ").Append(orgNone).Append('\n');
                return sb.ToString();
        }
        var record = lookup.Record!;
        sb.Append("found: _dmarc.").Append(lookup.RecordDomain).Append(" (").Append(SourceText(lookup.Source)).Append(")\n");
        sb.Append("record: ").Append(record.Text).Append('\n');
        sb.Append("tags:");
        foreach (var (tag, value) in Tags(record, mode)) sb.Append(' ').Append(tag).Append('=').Append(value);
        sb.Append('\n');
        foreach (var warning in record.Warnings) sb.Append("warning: ").Append(warning).Append('\n');
        if (lookup.OrganizationalDomain is { } org) sb.Append("organizational domain: ").Append(org).Append('\n');
        sb.Append("policy: ").Append(applied!.Tag).Append('=').Append(applied.Policy.ToKeyword())
          .Append(" (").Append(applied.Why).Append(")\n");
        if (lookup.Reason is not null) sb.Append("note: ").Append(lookup.Reason).Append('\n');
        return sb.ToString();
    }

    private static string ToJson(DmarcRecordLookup lookup, DmarcMode mode, AppliedPolicy? applied) => CliJson.Object(w =>
    {
        w.WriteString("domain", lookup.Domain);
        w.WriteString("result", lookup.Status switch
        {
            DmarcLookupStatus.Found => "found",
            DmarcLookupStatus.TempError => "temperror",
            _ => "none",
        });
        w.WriteString("mode", ModeName(mode));
        w.WriteString("discoveryMethod", lookup.DiscoveryMethod);
        w.WriteStartArray("queried");
        foreach (var name in lookup.QueriedNames) w.WriteStringValue(name);
        w.WriteEndArray();
        w.WriteStartArray("severalRecords");
        foreach (var name in lookup.SeveralRecordsAt) w.WriteStringValue(name);
        w.WriteEndArray();
        w.WriteString("severalRecordsRule", lookup.SeveralRecordsAt.Count == 0 ? null
            : mode == DmarcMode.Rfc7489 ? "discovery-stops" : "discarded-walk-goes-on");
        var found = lookup.Status == DmarcLookupStatus.Found;
        w.WriteString("recordDomain", found ? lookup.RecordDomain : null);
        w.WriteString("source", found ? SourceName(lookup.Source) : null);
        w.WriteString("record", found ? lookup.Record!.Text : null);
        if (found)
        {
            w.WriteStartObject("tags");
            foreach (var (tag, value) in Tags(lookup.Record!, mode)) w.WriteString(tag, value);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("tags");
        }
        w.WriteString("organizationalDomain", lookup.OrganizationalDomain);
        w.WriteString("policyTag", applied?.Tag);
        w.WriteString("policy", applied?.Policy.ToKeyword());
        if (applied?.DomainExists is { } exists) w.WriteBoolean("domainExists", exists);
        else w.WriteNull("domainExists");
        w.WriteString("reason", lookup.Reason);
        w.WriteStartArray("warnings");
        foreach (var warning in found ? lookup.Record!.Warnings : []) w.WriteStringValue(warning);
        w.WriteEndArray();
    });

    /// <summary>Every tag the mode knows, with the default for each one the record leaves out (RFC 9989 4.7;
    /// RFC 7489 6.3 adds pct, rf and ri and lacks np, t and psd). p, sp and np are the values in effect.</summary>
    private static List<(string Tag, string Value)> Tags(DmarcRecord record, DmarcMode mode)
    {
        var policies = record.EffectivePolicies(mode)!;
        var tags = new List<(string, string)>(14)
        {
            ("p", policies.P.ToKeyword()),
            ("sp", policies.Sp.ToKeyword()),
        };
        if (mode == DmarcMode.Rfc9989) tags.Add(("np", policies.Np.ToKeyword()));
        tags.Add(("adkim", record.DkimAlignment.ToKeyword()));
        tags.Add(("aspf", record.SpfAlignment.ToKeyword()));
        if (mode == DmarcMode.Rfc9989)
        {
            tags.Add(("t", record.Testing ? "y" : "n"));
            tags.Add(("psd", record.Psd switch { DmarcPsd.Yes => "y", DmarcPsd.No => "n", _ => "u" }));
        }
        tags.Add(("fo", record.FailureOptions));
        tags.Add(("rua", string.Join(',', record.AggregateReportUris.Select(u => u.Uri))));
        tags.Add(("ruf", string.Join(',', record.FailureReportUris.Select(u => u.Uri))));
        if (mode == DmarcMode.Rfc7489)
        {
            tags.Add(("pct", record.Percent.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            tags.Add(("rf", record.ReportFormat));
            tags.Add(("ri", record.ReportInterval.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        return tags;
    }

    /// <summary>What several v=DMARC1 records at one name did: RFC 9989 4.10 discards them all and walks on to
    /// the next name; RFC 7489 6.6.3 step 5 ends policy discovery with no DMARC applied.</summary>
    private static string SeveralRecordsRule(DmarcMode mode) => mode == DmarcMode.Rfc7489
        ? "discovery stops, DMARC not applied, RFC 7489 6.6.3"
        : "all discarded, the walk goes on, RFC 9989 4.10";

    private static string ModeName(DmarcMode mode) => mode == DmarcMode.Rfc7489 ? "rfc7489" : "rfc9989";

    private static string? SourceName(DmarcRecordSource? source) => source switch
    {
        DmarcRecordSource.AuthorDomain => "authorDomain",
        DmarcRecordSource.OrganizationalDomain => "organizationalDomain",
        DmarcRecordSource.PublicSuffixDomain => "publicSuffixDomain",
        _ => null,
    };

    private static string SourceText(DmarcRecordSource? source) => source switch
    {
        DmarcRecordSource.AuthorDomain => "the domain itself",
        DmarcRecordSource.OrganizationalDomain => "the organizational domain",
        _ => "the public suffix domain",
    };

    /// <summary>The policy for mail from the looked-up domain (RFC 9989 4.10.1): p for a record at the domain
    /// itself, else sp when the domain exists and np when it does not (NXDOMAIN, RFC 8020).</summary>
    /// <param name="ExistenceUnknown">the existence check failed temporarily, so sp or np is a guess</param>
    private sealed record AppliedPolicy(string Tag, DmarcPolicy Policy, bool? DomainExists, string Why, bool ExistenceUnknown = false)
    {
        public static async Task<AppliedPolicy> FindAsync(IDnsResolver dns, DmarcRecordLookup lookup, DmarcMode mode, CancellationToken ct)
        {
            var record = lookup.Record!;
            var policies = record.EffectivePolicies(mode)!;
            if (policies.ActingAsNone)
                return new("p", DmarcPolicy.None, null, "the published policy is unusable; acting as p=none because rua is valid");
            if (lookup.Source == DmarcRecordSource.AuthorDomain)
                return new("p", policies.P, null, "the record is at the domain itself");
            string spTag = record.SubdomainPolicy is not null ? "sp" : "p";
            if (mode == DmarcMode.Rfc7489)
                return new(spTag, policies.Sp, null, "the domain is below the policy domain");
            var answer = await dns.GetAddressesAsync(lookup.Domain, false, ct);
            if (answer.IsTemporaryFailure)
                return new(spTag, policies.Sp, null, $"sp or np: the existence check of {lookup.Domain} failed ({answer.Error ?? answer.Status.ToString()})", true);
            if (answer.Status == DnsStatus.NxDomain)
                return new(record.NonExistentPolicy is not null ? "np" : spTag, policies.Np, false, $"{lookup.Domain} does not exist");
            return new(spTag, policies.Sp, true, $"{lookup.Domain} exists");
        }
    }
}
