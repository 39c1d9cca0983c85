namespace Milter.MailAuth.Dkim;

/// <summary>
/// A bounded cache of key record outcomes (parsed keys and permanent errors; temporary errors are never
/// stored), keyed by the record name, each kept for a fixed time. Thread-safe. When full, expired entries go
/// first, then an arbitrary tenth of the rest, so a flood of distinct selectors cannot grow it.
/// </summary>
public sealed class DkimKeyCache
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;

    public DkimKeyCache(int maxEntries = 10_000, TimeSpan? timeToLive = null, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 0);
        MaxEntries = maxEntries;
        TimeToLive = timeToLive ?? TimeSpan.FromMinutes(10);
        ArgumentOutOfRangeException.ThrowIfLessThan(TimeToLive, TimeSpan.Zero);
        _time = timeProvider ?? TimeProvider.System;
    }

    public int MaxEntries { get; }

    public TimeSpan TimeToLive { get; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryGet(string name, out DkimKeyRecordResult result)
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_entries.TryGetValue(name, out Entry entry))
            {
                if (entry.Expires > now)
                {
                    result = entry.Result;
                    return true;
                }
                _entries.Remove(name);
            }
        }
        result = null!;
        return false;
    }

    /// <summary>Stores an outcome; temporary errors are ignored.</summary>
    public void Set(string name, DkimKeyRecordResult result)
    {
        if (result.ErrorResult == DkimResult.TempError || MaxEntries == 0 || TimeToLive <= TimeSpan.Zero)
        {
            return;
        }
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_entries.Count >= MaxEntries && !_entries.ContainsKey(name))
            {
                MakeRoom(now);
            }
            _entries[name] = new Entry(result, now + TimeToLive);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
        }
    }

    private void MakeRoom(DateTimeOffset now)
    {
        var victims = new List<string>();
        foreach (KeyValuePair<string, Entry> pair in _entries)
        {
            if (pair.Value.Expires <= now)
            {
                victims.Add(pair.Key);
            }
        }
        if (victims.Count == 0)
        {
            int n = Math.Max(1, MaxEntries / 10);
            foreach (string key in _entries.Keys)
            {
                victims.Add(key);
                if (victims.Count == n)
                {
                    break;
                }
            }
        }
        foreach (string key in victims)
        {
            _entries.Remove(key);
        }
    }

    private readonly record struct Entry(DkimKeyRecordResult Result, DateTimeOffset Expires);
}
