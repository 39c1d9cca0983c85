using System.Diagnostics;
using System.Net;

namespace Milter.MailAuth.Dns;

/// <summary>An <see cref="IDnsResolver"/> that tells an <see cref="IDnsQueryObserver"/> of each query the inner one
/// answers. Names that could not be sent (<see cref="DnsStatus.InvalidName"/>) and queries the caller cancelled are
/// not reported: no query went out, or it has no result.</summary>
public sealed class ObservedDnsResolver : IDnsResolver
{
    private readonly IDnsResolver _inner;
    private readonly IDnsQueryObserver _observer;

    public ObservedDnsResolver(IDnsResolver inner, IDnsQueryObserver observer)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(observer);
        _inner = inner;
        _observer = observer;
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
        Observe("txt", _inner.GetTxtAsync(name, cancellationToken));

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
        Observe(ipv6 ? "aaaa" : "a", _inner.GetAddressesAsync(name, ipv6, cancellationToken));

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        Observe("mx", _inner.GetMxAsync(name, cancellationToken));

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Observe("ptr", _inner.GetPtrAsync(address, cancellationToken));

    private async Task<DnsAnswer<T>> Observe<T>(string type, Task<DnsAnswer<T>> query)
    {
        var start = Stopwatch.GetTimestamp();
        var answer = await query.ConfigureAwait(false);
        if (answer.Status != DnsStatus.InvalidName)
            _observer.QueryCompleted(type, answer.Status, Stopwatch.GetElapsedTime(start));
        return answer;
    }
}
