using System.Net;
using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>
/// An in-memory zone for DMARC tests with RFC 8020 semantics: a name exists when it owns a record or lies above one
/// (an empty non-terminal), so its TXT/A queries give NODATA; other names give NXDOMAIN. Names can be made to fail
/// (SERVFAIL or timeout). Every query is logged.
/// </summary>
internal sealed class DmarcZone : IDnsResolver
{
    private readonly Dictionary<string, List<string>> _txt = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, DnsStatus> _failures = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _log = [];

    public IReadOnlyList<string> Log
    {
        get { lock (_log) return _log.ToList(); }
    }

    public IEnumerable<string> TxtQueries => Log.Where(l => l.StartsWith("TXT ", StringComparison.Ordinal)).Select(l => l[4..]);

    /// <summary>A DMARC record at _dmarc.<paramref name="domain"/>.</summary>
    public DmarcZone Dmarc(string domain, string record) => Txt("_dmarc." + domain, record);

    public DmarcZone Txt(string name, string record)
    {
        if (!_txt.TryGetValue(name, out var list))
            _txt[name] = list = [];
        list.Add(record);
        return this;
    }

    /// <summary>An A record, so the name exists.</summary>
    public DmarcZone Host(string name)
    {
        _hosts.Add(name);
        return this;
    }

    public DmarcZone Fail(string name, DnsStatus status = DnsStatus.ServerFailure)
    {
        _failures[name] = status;
        return this;
    }

    private bool Exists(string name)
    {
        foreach (var owner in _txt.Keys.Concat(_hosts))
        {
            if (owner.Equals(name, StringComparison.OrdinalIgnoreCase) || owner.EndsWith("." + name, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    private DnsAnswer<T>? Failure<T>(string name) =>
        _failures.TryGetValue(name, out var status) ? new DnsAnswer<T>(status, [], status.ToString()) : null;

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken)
    {
        lock (_log) _log.Add("TXT " + name);
        var answer = Failure<string>(name)
            ?? (_txt.TryGetValue(name, out var list) ? DnsAnswer<string>.Of([.. list])
                : Exists(name) ? DnsAnswer<string>.NoData : DnsAnswer<string>.NxDomain);
        return Task.FromResult(answer);
    }

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken)
    {
        lock (_log) _log.Add((ipv6 ? "AAAA " : "A ") + name);
        var answer = Failure<IPAddress>(name)
            ?? (_hosts.Contains(name) && !ipv6 ? DnsAnswer<IPAddress>.Of(IPAddress.Parse("192.0.2.1"))
                : Exists(name) ? DnsAnswer<IPAddress>.NoData : DnsAnswer<IPAddress>.NxDomain);
        return Task.FromResult(answer);
    }

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Exists(name) ? DnsAnswer<MxRecord>.NoData : DnsAnswer<MxRecord>.NxDomain);

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<string>.NxDomain);
}
