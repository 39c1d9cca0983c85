using System.Globalization;
using System.Net;
using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Tests.Spf;

/// <summary>
/// In-memory DNS over a scenario's zonedata, answering as the suite's drivers do: a name not in the zone is
/// NXDOMAIN; a name without records of the type is NODATA; a TIMEOUT entry makes a query time out unless a record
/// of the queried type comes before it; CNAMEs are followed (at most 8; a loop is SERVFAIL).
/// </summary>
public sealed class ZoneDataResolver(ZoneData zone) : IDnsResolver
{
    private const int MaxCnameChain = 8;

    public List<string> Queries { get; } = new();

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Query(name, "TXT", e => e.Value));

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
        Task.FromResult(Query(name, ipv6 ? "AAAA" : "A", e => IPAddress.Parse(e.Value)));

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Query(name, "MX", e => new MxRecord(e.Preference, e.Value.TrimEnd('.'))));

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(Query(DnsNames.ReverseName(address), "PTR", e => e.Value.TrimEnd('.')));

    private DnsAnswer<T> Query<T>(string name, string type, Func<ZoneEntry, T> convert)
    {
        lock (Queries)
            Queries.Add(string.Create(CultureInfo.InvariantCulture, $"{type} {name}"));
        for (int hop = 0; hop <= MaxCnameChain; hop++)
        {
            name = name.TrimEnd('.');
            if (!zone.Names.ContainsKey(name))
                return DnsAnswer<T>.NxDomain;
            var records = new List<T>();
            string? cname = null;
            foreach (var entry in zone.EntriesWithTxt(name))
            {
                if (entry.IsTimeout)
                {
                    if (records.Count == 0)
                        return DnsAnswer<T>.TimedOut;
                    continue;
                }
                if (entry.IsNone)
                    continue;
                if (entry.Type == type)
                    records.Add(convert(entry));
                else if (entry.Type == "CNAME")
                    cname = entry.Value;
            }
            if (records.Count > 0 || cname is null)
                return new DnsAnswer<T>(DnsStatus.NoError, records);
            name = cname;
        }
        return new DnsAnswer<T>(DnsStatus.ServerFailure, Array.Empty<T>(), "CNAME chain too long or looping");
    }
}
