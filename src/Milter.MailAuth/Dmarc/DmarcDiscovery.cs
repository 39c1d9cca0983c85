using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Dmarc;

/// <summary>Policy discovery in both modes (RFC 9989 4.10.1 tree walk; RFC 7489 6.6.3 with the PSL).</summary>
internal sealed class DmarcDiscovery
{
    private DmarcDiscovery(DmarcRecordLookup lookup, DmarcTreeWalk? walk, DmarcPolicySet? policies)
    {
        Lookup = lookup;
        Walk = walk;
        Policies = policies;
    }

    public DmarcRecordLookup Lookup { get; private set; }
    /// <summary>RFC 9989 mode: the author's walk, possibly stopped after its first query.</summary>
    public DmarcTreeWalk? Walk { get; }
    /// <summary>Set when <see cref="Lookup"/> is Found.</summary>
    public DmarcPolicySet? Policies { get; }

    /// <summary>The author's Organizational Domain, finishing the walk when needed; null on a transient DNS error.</summary>
    public async Task<string?> AuthorOrganizationalDomainAsync(PublicSuffixList? psl, CancellationToken ct)
    {
        if (Lookup.OrganizationalDomain is { } known)
            return known;
        string? org;
        if (Walk is null)
        {
            org = psl!.GetOrganizationalDomain(Lookup.Domain);
        }
        else
        {
            await Walk.CompleteAsync(ct);
            org = Walk.TempError is null ? Walk.OrganizationalDomain() : null;
        }
        if (org is not null)
            Lookup = Lookup with
            {
                OrganizationalDomain = org,
                QueriedNames = Walk?.QueriedNames.ToList() ?? Lookup.QueriedNames,
                SeveralRecordsAt = Walk is null ? Lookup.SeveralRecordsAt : SeveralAt(Walk),
            };
        return org;
    }

    /// <summary>RFC 9989 4.10.1: the record at the author domain, else at its Org Domain, else the PSD record.
    /// Several records at a name are discarded and the walk goes on (see <see cref="DmarcTreeWalk.StepAsync"/>).</summary>
    public static async Task<DmarcDiscovery> TreeWalkAsync(IDnsResolver dns, string author, bool completeWalk, CancellationToken ct)
    {
        var discovery = await TreeWalkCoreAsync(dns, author, completeWalk, ct);
        discovery.Lookup = discovery.Lookup with { SeveralRecordsAt = SeveralAt(discovery.Walk!) };
        return discovery;
    }

    private static List<string> SeveralAt(DmarcTreeWalk walk) => walk.Discarded.Select(name => "_dmarc." + name).ToList();

    private static async Task<DmarcDiscovery> TreeWalkCoreAsync(IDnsResolver dns, string author, bool completeWalk, CancellationToken ct)
    {
        var walk = new DmarcTreeWalk(dns, author);
        await walk.StepAsync(ct);
        if (walk.TempError is not null)
            return Failed(DmarcLookupStatus.TempError, author, walk, walk.TempError);
        if (walk.Found.Count == 1 && walk.Found[0].Name == author)
        {
            string? org = null;
            if (completeWalk)
            {
                await walk.CompleteAsync(ct);
                org = walk.TempError is null ? walk.OrganizationalDomain() : null;
            }
            return Found(author, walk.Found[0], DmarcRecordSource.AuthorDomain, org, walk, DmarcMode.Rfc9989);
        }
        await walk.CompleteAsync(ct);
        if (walk.TempError is not null)
            return Failed(DmarcLookupStatus.TempError, author, walk, walk.TempError);
        string orgDomain = walk.OrganizationalDomain();
        DmarcWalkRecord? atOrg = null, atPsd = null;
        foreach (var f in walk.Found)
        {
            if (f.Name == orgDomain) atOrg = f;
            else if (f.Record.Psd == DmarcPsd.Yes) atPsd = f;
        }
        if (atOrg is not null)
            return Found(author, atOrg, DmarcRecordSource.OrganizationalDomain, orgDomain, walk, DmarcMode.Rfc9989);
        if (atPsd is not null)
            return Found(author, atPsd, DmarcRecordSource.PublicSuffixDomain, orgDomain, walk, DmarcMode.Rfc9989);
        string reason = walk.Found.Count > 0
            ? $"no DMARC record at {author}, its Organizational Domain {orgDomain} or a public suffix domain (records at {string.Join(", ", walk.Found.Select(f => f.Name))} do not apply)"
            : $"no DMARC record found for {author}";
        if (walk.Discarded.Count > 0)
            reason += $"; several records discarded at {string.Join(", ", walk.Discarded)}";
        return new DmarcDiscovery(
            new DmarcRecordLookup(DmarcLookupStatus.None, author, null, null, null, orgDomain, walk.QueriedNames.ToList(), reason),
            walk, null);
    }

    /// <summary>RFC 7489 6.6.3: the record at the author domain, else at the PSL Organizational Domain;
    /// several records at the name queried means DMARC is not applied. Step 3 goes to the Organizational Domain
    /// only "If the set is now empty", so several records at the author domain reach step 5: "If the remaining set
    /// contains multiple records or no records, policy discovery terminates and DMARC processing is not applied
    /// to this message".</summary>
    public static async Task<DmarcDiscovery> PublicSuffixAsync(IDnsResolver dns, PublicSuffixList psl, string author, CancellationToken ct)
    {
        var queried = new List<string>(2);
        string org = psl.GetOrganizationalDomain(author) ?? author;
        string[] names = org == author ? [author] : [author, org];
        foreach (var name in names)
        {
            var answer = await DmarcTreeWalk.QueryAsync(dns, name, queried, ct);
            if (answer.IsTemporaryFailure)
                return Psl(new(DmarcLookupStatus.TempError, author, null, null, null, org, queried,
                    $"DNS lookup of _dmarc.{name} failed: {answer.Error ?? answer.Status.ToString()}"), null);
            var records = DmarcTreeWalk.DmarcRecords(answer);
            if (records.Count > 1)
                return Psl(new(DmarcLookupStatus.None, author, null, null, null, org, queried,
                    $"{records.Count} DMARC records at _dmarc.{name}: DMARC not applied (RFC 7489 6.6.3)") { SeveralRecordsAt = ["_dmarc." + name] }, null);
            if (records.Count == 1 && DmarcRecord.TryParse(records[0], out var record, out _))
            {
                var source = name == author ? DmarcRecordSource.AuthorDomain : DmarcRecordSource.OrganizationalDomain;
                var found = Found(author, new DmarcWalkRecord(name, record!), source, org, null, DmarcMode.Rfc7489);
                return Psl(found.Lookup with { QueriedNames = queried }, found.Policies);
            }
        }
        return Psl(new(DmarcLookupStatus.None, author, null, null, null, org, queried, $"no DMARC record found for {author}"), null);
    }

    private static DmarcDiscovery Psl(DmarcRecordLookup lookup, DmarcPolicySet? policies) =>
        new(lookup with { DiscoveryMethod = "psl" }, null, policies);

    private static DmarcDiscovery Found(string author, DmarcWalkRecord found, DmarcRecordSource source, string? org,
        DmarcTreeWalk? walk, DmarcMode mode)
    {
        var queried = walk?.QueriedNames.ToList() ?? [];
        var policies = found.Record.EffectivePolicies(mode);
        if (policies is null)
        {
            string reason = $"DMARC record at {found.Name}: {found.Record.PolicyProblem ?? "invalid np value"} and no valid rua URI; DMARC not applied";
            return new DmarcDiscovery(
                new DmarcRecordLookup(DmarcLookupStatus.None, author, found.Record, found.Name, source, org, queried, reason), walk, null);
        }
        string? note = policies.ActingAsNone
            ? $"{found.Record.PolicyProblem ?? "invalid np value"}; acting as p=none because rua is valid"
            : null;
        return new DmarcDiscovery(
            new DmarcRecordLookup(DmarcLookupStatus.Found, author, found.Record, found.Name, source, org, queried, note), walk, policies);
    }

    private static DmarcDiscovery Failed(DmarcLookupStatus status, string author, DmarcTreeWalk walk, string reason) =>
        new(new DmarcRecordLookup(status, author, null, null, null, null, walk.QueriedNames.ToList(), reason), walk, null);

    public static DmarcDiscovery Invalid(string domain) =>
        new(new DmarcRecordLookup(DmarcLookupStatus.PermError, domain, null, null, null, null, [], $"\"{domain}\" is not a valid domain name"), null, null);
}
