using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.Reporting;

namespace Milter.Keys.Rotation;

/// <summary>
/// The daemon's side of key rotation. <see cref="Refresh"/> reads the state file and gives the key store to sign with: the
/// configured one with each rotated key swapped for the state's active key. A state file that cannot be read, or an active
/// key that cannot be loaded, keeps the last good key (the configured one at first) with an error line, rate-limited: a
/// domain is never left without a key. <see cref="ObserveAsync"/> looks up each pending record on every resolver (no lock
/// held); <see cref="Advance"/> records since when they serve it and switches once they have for
/// <c>Signing:Rotation:PublishedForMinutes</c>; never before. Not thread-safe: the caller runs Refresh and Advance one at a time.
/// </summary>
internal sealed class KeyRotation
{
    private static readonly TimeSpan ErrorInterval = TimeSpan.FromMinutes(15);
    private const int MaxErrorKinds = 100;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, RateLimitedLog> _errors = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Domain, string Algorithm), KeyStore.KeySwap> _lastGood = new();
    private KeyStore _base;
    private SigningSection _signing;
    /// <summary>The swaps <see cref="Effective"/> was made with; null: none yet over the current configured keys.</summary>
    private string? _applied;
    private readonly List<Action> _afterSwap = [];

    public KeyRotation(RotationStateFile file, KeyStore configured, SigningSection signing, ILogger logger, TimeProvider time)
    {
        File = file;
        _base = configured;
        _signing = signing;
        _logger = logger;
        _time = time;
        Effective = configured;
    }

    public RotationStateFile File { get; }

    /// <summary>The key store new messages sign with.</summary>
    public KeyStore Effective { get; private set; }

    /// <summary>A reload: the newly configured keys, with the rotation state applied again.</summary>
    public KeyStore Rebase(KeyStore configured, SigningSection signing)
    {
        _base = configured;
        _signing = signing;
        _applied = null;
        Refresh();
        return Effective;
    }

    /// <summary>Reads the state and applies it; returns the new store when what is signed with changed, else null.</summary>
    public KeyStore? Refresh()
    {
        RotationState? state = null;
        try
        {
            state = File.Read();
        }
        catch (RotationStateException e)
        {
            Error($"key rotation: {e.Message}; signing with the last good keys");
        }
        if (state is not null)
        {
            foreach (var gone in _lastGood.Keys.Where(k => state.Find(k.Domain, k.Algorithm) is null).ToList()) _lastGood.Remove(gone);
            foreach (var entry in state.Keys)
            {
                if (LoadActive(entry) is { } swap) _lastGood[(entry.Domain, entry.Algorithm)] = swap;
            }
        }
        var swaps = _lastGood.Values.OrderBy(s => s.Domain, StringComparer.Ordinal).ThenBy(s => s.Algorithm, StringComparer.Ordinal).ToList();
        var applied = string.Join(";", swaps.Select(s => $"{s.Domain} {s.Algorithm} {s.Selector} {s.Key.PublicKeyBase64}"));
        if (applied == _applied) return null;
        _applied = applied;
        var next = _base.WithSwaps(swaps);
        if (ReferenceEquals(next, Effective)) return null;
        var before = Describe(Effective);
        Effective = next;
        foreach (var line in Describe(Effective).Except(before))
            _logger.LogInformation("key rotation: {Line} (rotation state {File})", line, File.Path);
        return Effective;
    }

    private static IEnumerable<string> Describe(KeyStore keys) => keys.RotatableDomains()
        .SelectMany(d => keys.RotatableKeys(d).Select(k => $"{d} {k.Key!.Algorithm} signs with selector {k.Selector} ({k.KeyFile})"))
        .ToList();

    private KeyStore.KeySwap? LoadActive(RotationEntry entry)
    {
        var key = Load(entry, entry.Active, "active");
        return key is null ? null : new KeyStore.KeySwap(entry.Domain, entry.Algorithm, entry.Active.Selector, entry.Active.KeyFile, key);
    }

    /// <summary>A key of the state, loaded as a signing key is (owner, mode, size, PEM); null with an error line when it cannot be.</summary>
    private DkimPrivateKey? Load(RotationEntry entry, RotationKey key, string what)
    {
        try
        {
            var loaded = KeyStore.LoadKeyFile($"{what} key of {entry.Domain} {entry.Algorithm}", key.KeyFile, _signing.AllowGroupReadableKeys);
            if (loaded.Algorithm == entry.Algorithm) return loaded;
            Error($"key rotation: rotation state {File.Path}: the {what} key of {entry.Domain} {entry.Algorithm} ({key.KeyFile}) is a {loaded.Algorithm} key; " +
                  (what == "active" ? "signing with the last good key" : "not switching to it"));
        }
        catch (ConfigException e)
        {
            Error($"key rotation: rotation state {File.Path}: the {what} key of {entry.Domain} {entry.Algorithm} (selector {key.Selector}) cannot be used: " +
                  $"{e.Problem ?? e.Message}; " + (what == "active" ? "signing with the last good key" : "not switching to it"));
        }
        return null;
    }

    /// <summary>What DNS says of one pending key: served (matching) by every resolver, or not, with the lines saying why.</summary>
    public sealed record Observation(string Domain, string Algorithm, string Selector, bool Served, string Detail);

    public async Task<IReadOnlyList<Observation>> ObserveAsync(IReadOnlyList<(string Name, IDnsResolver Resolver)> resolvers, int timeoutMs)
    {
        RotationState state;
        try
        {
            state = File.Read();
        }
        catch (RotationStateException)
        {
            return []; // said by Refresh
        }
        var result = new List<Observation>();
        foreach (var entry in state.Keys)
        {
            if (entry.Pending is not { } pending) continue;
            var key = Load(entry, pending, "pending");
            if (key is null)
            {
                result.Add(new Observation(entry.Domain, entry.Algorithm, pending.Selector, false, "the pending key cannot be loaded"));
                continue;
            }
            using (key)
            {
                var answers = await RotationDns.CheckAsync(resolvers, entry.Domain, pending.Selector, key, pending.KeyFile, timeoutMs);
                var detail = string.Join("; ", answers.Where(a => !a.Served).Select(a => $"{a.Resolver}: {a.Line}"));
                result.Add(new Observation(entry.Domain, entry.Algorithm, pending.Selector, RotationDns.AllServed(answers), detail));
            }
        }
        return result;
    }

    /// <summary>Records what <paramref name="observations"/> saw and switches the pending keys that every resolver has
    /// served for long enough. Returns the new store when what is signed with changed, else null.</summary>
    /// <param name="publish">Puts the new store in place for new messages; called before the switch is logged, so that a
    /// message sent after the log line is signed with the new key.</param>
    public KeyStore? Advance(IReadOnlyList<Observation> observations, RotationSection settings, Action<KeyStore>? publish = null)
    {
        ArgumentNullException.ThrowIfNull(observations);
        ArgumentNullException.ThrowIfNull(settings);
        _afterSwap.Clear();
        var publishedFor = TimeSpan.FromMinutes(settings.PublishedForMinutes);
        foreach (var o in observations)
        {
            var mark = _afterSwap.Count;
            try
            {
                File.Update(state => Step(state, o, publishedFor, settings));
            }
            catch (RotationStateException e)
            {
                Error($"key rotation: {e.Message}; not switching {o.Domain} {o.Algorithm} to selector {o.Selector} now");
                _afterSwap.RemoveRange(mark, _afterSwap.Count - mark); // not written: not switched
            }
        }
        var keys = Refresh();
        if (keys is not null) publish?.Invoke(keys);
        foreach (var log in _afterSwap) log();
        _afterSwap.Clear();
        return keys;
    }

    private RotationState Step(RotationState state, Observation o, TimeSpan publishedFor, RotationSection settings)
    {
        var entry = state.Find(o.Domain, o.Algorithm);
        if (entry?.Pending is not { } pending || pending.Selector != o.Selector) return state; // changed meanwhile
        var now = _time.GetUtcNow();
        var record = $"{pending.Selector}._domainkey.{o.Domain}";
        if (!o.Served)
        {
            if (pending.ServedSince is null) return state;
            _logger.LogWarning("key rotation: {Record} is no longer served by every resolver ({Detail}); waiting again", record, o.Detail);
            return state.With(entry with { Pending = pending with { ServedSince = null } });
        }
        if (pending.ServedSince is not { } since)
        {
            _logger.LogInformation("key rotation: {Record} is served by every resolver; {Domain} {Algorithm} switches to selector {Selector} after {Minutes} minute(s)",
                record, o.Domain, o.Algorithm, pending.Selector, settings.PublishedForMinutes);
            if (publishedFor > TimeSpan.Zero) return state.With(entry with { Pending = pending with { ServedSince = now } });
            since = now;
        }
        if (now - since < publishedFor) return state;
        var retired = entry.Active with { SwitchedAt = now };
        var removable = now + TimeSpan.FromDays(settings.RetireAfterDays);
        var old = entry.Active.Selector;
        _afterSwap.Add(() => _logger.LogInformation("key rotation: {Domain} {Algorithm} switched from selector {Old} to {New}; new messages are signed with {Selector}; " +
                                                    "the record of {OldRecord} can be removed after {Removable}",
            o.Domain, o.Algorithm, old, pending.Selector, pending.Selector, $"{old}._domainkey.{o.Domain}", RotationState.Text(removable)));
        return state.With(entry with
        {
            Active = pending with { ServedSince = since, SwitchedAt = now },
            Pending = null,
            Retiring = [.. entry.Retiring, retired],
        });
    }

    private void Error(string message)
    {
        lock (_errors)
            ErrorLocked(message);
    }

    private void ErrorLocked(string message)
    {
        if (!_errors.TryGetValue(message, out var log))
        {
            if (_errors.Count >= MaxErrorKinds) _errors.Clear();
            _errors[message] = log = new RateLimitedLog(_logger, _time, ErrorInterval);
        }
        log.Log(LogLevel.Error, null, message);
    }
}
