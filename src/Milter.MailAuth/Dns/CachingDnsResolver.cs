using System.Net;

namespace Milter.MailAuth.Dns;

/// <summary>
/// A bounded TTL cache in front of another <see cref="IDnsResolver"/>. Positive answers are kept for their TTL
/// clamped to [<see cref="DnsResolverOptions.MinimumCacheTtl"/>, <see cref="DnsResolverOptions.MaximumCacheTtl"/>];
/// NXDOMAIN and NODATA for the answer's negative TTL capped by <see cref="DnsResolverOptions.NegativeCacheTtl"/>;
/// temporary failures (timeout, SERVFAIL, other errors) are never kept. At most
/// <see cref="DnsResolverOptions.CacheEntries"/> answers; the least recently used goes first. Callers asking
/// for a name whose query is in flight share that query. Thread-safe.
/// </summary>
public sealed class CachingDnsResolver : IDnsResolver
{
    private readonly IDnsResolver _inner;
    private readonly TimeProvider _time;
    private readonly DnsResolverOptions _options;
    private readonly object _lock = new();
    private readonly Dictionary<(char Type, string Name), LinkedListNode<Entry>> _entries = new();
    private readonly LinkedList<Entry> _lru = new();
    private readonly Dictionary<(char Type, string Name), Task> _inFlight = new();

    private sealed record Entry((char Type, string Name) Key, object Answer, long ExpiresAtTicks);

    public CachingDnsResolver(IDnsResolver inner, DnsResolverOptions options, TimeProvider time)
    {
        options.ThrowIfInvalid();
        _inner = inner;
        _options = options;
        _time = time;
    }

    /// <summary>Answers currently held (expired ones included until they are looked up or evicted).</summary>
    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
        GetAsync('T', name, ct => _inner.GetTxtAsync(name, ct), cancellationToken);

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
        GetAsync(ipv6 ? '6' : '4', name, ct => _inner.GetAddressesAsync(name, ipv6, ct), cancellationToken);

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        GetAsync('M', name, ct => _inner.GetMxAsync(name, ct), cancellationToken);

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        GetAsync('P', address.ToString(), ct => _inner.GetPtrAsync(address, ct), cancellationToken);

    private async Task<DnsAnswer<T>> GetAsync<T>(char type, string name,
        Func<CancellationToken, Task<DnsAnswer<T>>> query, CancellationToken cancellationToken)
    {
        if (_options.CacheEntries == 0)
            return await query(cancellationToken);
        var key = (type, name.ToLowerInvariant());
        long now = _time.GetTimestamp();
        TaskCompletionSource<DnsAnswer<T>>? owned = null;
        Task<DnsAnswer<T>> pending;
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                if (node.Value.ExpiresAtTicks > now)
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    return (DnsAnswer<T>)node.Value.Answer;
                }
                _lru.Remove(node);
                _entries.Remove(key);
            }
            if (_inFlight.TryGetValue(key, out var running))
            {
                pending = (Task<DnsAnswer<T>>)running;
            }
            else
            {
                owned = new TaskCompletionSource<DnsAnswer<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
                pending = owned.Task;
                _inFlight[key] = pending;
            }
        }
        // The query runs once for every caller that asks while it is in flight (a burst of messages signed
        // by one domain costs one lookup), so it is not tied to the first caller's token: each caller stops
        // waiting at its own cancellation, and the resolver's own timeout bounds the query.
        if (owned is not null)
            _ = RunQueryAsync(key, query, owned);
        return await pending.WaitAsync(cancellationToken);
    }

    private async Task RunQueryAsync<T>((char Type, string Name) key, Func<CancellationToken, Task<DnsAnswer<T>>> query,
        TaskCompletionSource<DnsAnswer<T>> completion)
    {
        DnsAnswer<T> answer;
        try
        {
            answer = await query(CancellationToken.None);
        }
        catch (Exception ex)
        {
            lock (_lock) _inFlight.Remove(key);
            completion.SetException(ex);
            return;
        }
        var keep = Lifetime(answer);
        lock (_lock)
        {
            _inFlight.Remove(key);
            if (keep > TimeSpan.Zero)
            {
                long expires = _time.GetTimestamp() + (long)(keep.TotalSeconds * _time.TimestampFrequency);
                if (_entries.Remove(key, out var old))
                    _lru.Remove(old);
                while (_entries.Count >= _options.CacheEntries && _lru.Last is { } last)
                {
                    _lru.RemoveLast();
                    _entries.Remove(last.Value.Key);
                }
                _entries[key] = _lru.AddFirst(new Entry(key, answer, expires));
            }
        }
        completion.SetResult(answer);
    }

    private TimeSpan Lifetime<T>(DnsAnswer<T> answer)
    {
        if (answer.IsTemporaryFailure)
            return TimeSpan.Zero;
        if (answer.Status == DnsStatus.NxDomain || answer.Records.Count == 0)
        {
            var negative = answer.Ttl is { } t && t < _options.NegativeCacheTtl ? t : _options.NegativeCacheTtl;
            return negative > _options.MaximumCacheTtl ? _options.MaximumCacheTtl : negative;
        }
        var ttl = answer.Ttl ?? _options.MinimumCacheTtl;
        if (ttl < _options.MinimumCacheTtl) ttl = _options.MinimumCacheTtl;
        if (ttl > _options.MaximumCacheTtl) ttl = _options.MaximumCacheTtl;
        return ttl;
    }
}
