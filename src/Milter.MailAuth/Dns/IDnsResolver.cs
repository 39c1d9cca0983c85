using System.Net;

namespace Milter.MailAuth.Dns;

/// <summary>How a DNS query ended. Engines map these to their own results
/// (NXDOMAIN and "no records" are permanent, timeouts and server failures temporary).</summary>
public enum DnsStatus
{
    /// <summary>The name exists; <see cref="DnsAnswer{T}.Records"/> may still be empty (NODATA).</summary>
    NoError,
    NxDomain,
    ServerFailure,
    Timeout,
    /// <summary>Any other failure (refused, malformed answer, network error).</summary>
    Error,
    /// <summary>The name is not a valid domain name (<see cref="DomainName"/>, kind Query): no query was sent.
    /// Permanent: engines treat it as a name that cannot exist (SPF none/no match, DKIM permerror, DMARC no record).</summary>
    InvalidName,
}

/// <summary>The answer to one query: status and records (bounded by the resolver).</summary>
public sealed record DnsAnswer<T>(DnsStatus Status, IReadOnlyList<T> Records, string? Error = null)
{
    public bool IsTemporaryFailure => Status is DnsStatus.ServerFailure or DnsStatus.Timeout or DnsStatus.Error;
    /// <summary>Time to live the server gave (smallest TTL of the records, or the negative-caching
    /// time for NXDOMAIN/NODATA); null when unknown. Used by <see cref="CachingDnsResolver"/>.</summary>
    public TimeSpan? Ttl { get; init; }
    public static DnsAnswer<T> Of(params T[] records) => new(DnsStatus.NoError, records);
    public static DnsAnswer<T> NxDomain { get; } = new(DnsStatus.NxDomain, Array.Empty<T>());
    public static DnsAnswer<T> NoData { get; } = new(DnsStatus.NoError, Array.Empty<T>());
    public static DnsAnswer<T> TimedOut { get; } = new(DnsStatus.Timeout, Array.Empty<T>(), "timeout");
}

public sealed record MxRecord(int Preference, string Exchange);

/// <summary>
/// DNS as the engines see it. Names are given without a trailing dot, in A-label form.
/// TXT: each record's character-strings joined with no separator (RFC 6376 3.6.2.2, RFC 7208 3.3).
/// </summary>
public interface IDnsResolver
{
    Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken);
    /// <summary>A records (<paramref name="ipv6"/> false) or AAAA records (true).</summary>
    Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken);
    Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken);
    /// <summary>PTR names for an address (the reverse name is built by the resolver), without trailing dots.</summary>
    Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken);
}
