namespace Milter.MailAuth.Dmarc;

public enum DmarcLookupStatus
{
    /// <summary>A usable record was found.</summary>
    Found,
    /// <summary>No record applies (none anywhere, several at one name in RFC 7489 mode, or an unusable p without rua).</summary>
    None,
    /// <summary>A query needed for the answer failed transiently (SERVFAIL, timeout).</summary>
    TempError,
    /// <summary>The domain itself is not a valid name.</summary>
    PermError,
}

/// <summary>Where the applicable record came from (RFC 9989 4.10.1 preference order).</summary>
public enum DmarcRecordSource
{
    AuthorDomain,
    OrganizationalDomain,
    PublicSuffixDomain,
}

/// <summary>
/// The outcome of policy discovery for one author domain.
/// </summary>
/// <param name="Domain">the author domain as looked up (A-labels, lower case)</param>
/// <param name="Record">the record that applies (for <see cref="DmarcLookupStatus.Found"/>; for None it may hold a
/// record that was found but is not applied)</param>
/// <param name="RecordDomain">the DMARC Policy Domain: where <paramref name="Record"/> was found</param>
/// <param name="OrganizationalDomain">the author's Organizational Domain; null when it was not needed or not determined</param>
/// <param name="QueriedNames">the TXT names queried, in order</param>
/// <param name="Reason">why there is no record, or the error; null for a plain find</param>
public sealed record DmarcRecordLookup(
    DmarcLookupStatus Status,
    string Domain,
    DmarcRecord? Record,
    string? RecordDomain,
    DmarcRecordSource? Source,
    string? OrganizationalDomain,
    IReadOnlyList<string> QueriedNames,
    string? Reason)
{
    /// <summary>"treewalk" or "psl" (the discovery_method of RFC 9990 reports).</summary>
    public string DiscoveryMethod { get; init; } = "treewalk";

    /// <summary>The TXT names queried that held several v=DMARC1 records. RFC 9989 mode discarded them and the
    /// walk went on; RFC 7489 mode stopped there and applied no DMARC (see <see cref="DmarcDiscovery"/>).</summary>
    public IReadOnlyList<string> SeveralRecordsAt { get; init; } = [];
}
