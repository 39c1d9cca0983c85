using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Dmarc;

/// <summary>One record kept by a walk: the name it is at and the parsed record.</summary>
internal sealed record DmarcWalkRecord(string Name, DmarcRecord Record);

/// <summary>
/// The DNS Tree Walk of RFC 9989 4.10, run one query at a time so a caller can stop after the first answer.
/// Query targets: the start name, then (8 or more labels) the name cut to 7 labels, then one label less each
/// time down to the TLD: at most 8 queries. A name with several v=DMARC1 records counts as having none; a record
/// with psd=y or psd=n ends the walk. NXDOMAIN and NODATA mean no record; SERVFAIL and timeouts end the walk with
/// <see cref="TempError"/>.
/// </summary>
internal sealed class DmarcTreeWalk
{
    public const int MaxQueries = 8;
    private const int SkipThreshold = 8;
    private const int MaxQueryNameLength = 253;

    private readonly IDnsResolver _dns;
    private readonly List<string> _targets;
    private readonly List<DmarcWalkRecord> _found = [];
    private readonly List<string> _queried = [];
    private int _next;

    public DmarcTreeWalk(IDnsResolver dns, string start)
    {
        _dns = dns;
        Start = start;
        _targets = Targets(start);
    }

    public string Start { get; }
    public IReadOnlyList<DmarcWalkRecord> Found => _found;
    public IReadOnlyList<string> QueriedNames => _queried;
    /// <summary>Names where several DMARC records were found and discarded (the names, without "_dmarc.").</summary>
    public List<string> Discarded { get; } = [];
    public string? TempError { get; private set; }
    public bool IsComplete => TempError is not null || _next >= _targets.Count;

    /// <summary>The names a walk from <paramref name="start"/> queries, in order (RFC 9989 4.10 steps 2-5).</summary>
    public static List<string> Targets(string start)
    {
        var list = new List<string>(MaxQueries) { start };
        int labels = DmarcDomain.CountLabels(start);
        int next = labels >= SkipThreshold ? SkipThreshold - 1 : labels - 1;
        for (; next >= 1; next--)
            list.Add(DmarcDomain.LastLabels(start, next));
        return list;
    }

    /// <summary>Runs the next query. False when the walk had already ended.</summary>
    public async Task<bool> StepAsync(CancellationToken ct)
    {
        if (IsComplete)
            return false;
        string name = _targets[_next++];
        var answer = await QueryAsync(_dns, name, _queried, ct);
        if (answer.IsTemporaryFailure)
        {
            TempError = $"DNS lookup of _dmarc.{name} failed: {answer.Error ?? answer.Status.ToString()}";
            return true;
        }
        var records = DmarcRecords(answer);
        if (records.Count > 1)
        {
            // RFC 9989 4.10 steps 2 and 5: "Records that do not start with a "v=" tag that identifies the current
            // version of DMARC are discarded. If multiple DMARC records are returned, they are all discarded."
            // Only a single remaining record with psd= stops the walk, so the walk goes on to the next target
            // (steps 3 and 6): several records at the Author Domain lead on to the Organizational Domain's.
            // Quoted from draft-ietf-dmarc-dmarcbis-41, the approved text (RFC 9989 itself is not available
            // offline here; /work/shared/reference/dmarc-arc.md 1 and 2.1 say the same).
            Discarded.Add(name);
            return true;
        }
        if (records.Count == 1 && DmarcRecord.TryParse(records[0], out var record, out _))
        {
            _found.Add(new DmarcWalkRecord(name, record!));
            if (record!.Psd != DmarcPsd.Unknown)
                _next = _targets.Count; // psd=y / psd=n stops the walk
        }
        return true;
    }

    public async Task CompleteAsync(CancellationToken ct)
    {
        while (await StepAsync(ct))
        {
        }
    }

    /// <summary>The Organizational Domain of <see cref="Start"/> (RFC 9989 4.10.2) from a complete walk.</summary>
    public string OrganizationalDomain()
    {
        // Records are in walk order, longest name first.
        foreach (var f in _found)
        {
            if (f.Record.Psd == DmarcPsd.No)
                return f.Name;
            if (f.Record.Psd == DmarcPsd.Yes && f.Name != Start)
                return DmarcDomain.LastLabels(Start, DmarcDomain.CountLabels(f.Name) + 1);
        }
        return _found.Count > 0 ? _found[^1].Name : Start;
    }

    /// <summary>TXT at _dmarc.NAME; a name too long for DNS cannot hold a record.</summary>
    internal static Task<DnsAnswer<string>> QueryAsync(IDnsResolver dns, string name, List<string> queried, CancellationToken ct)
    {
        string query = "_dmarc." + name;
        if (query.Length > MaxQueryNameLength)
            return Task.FromResult(DnsAnswer<string>.NxDomain);
        queried.Add(query);
        return dns.GetTxtAsync(query, ct);
    }

    /// <summary>The answer's records that start with v=DMARC1 (other TXT records, such as SPF, are dropped first).</summary>
    internal static List<string> DmarcRecords(DnsAnswer<string> answer)
    {
        var list = new List<string>(1);
        foreach (var txt in answer.Records)
        {
            if (DmarcRecord.IsDmarcRecord(txt))
                list.Add(txt);
        }
        return list;
    }
}
