using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Keys;
using Milter.Keys.Rotation;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.Tests.Reporting;

namespace Milter.Tests.Keys;

/// <summary>Issue 18 part 4: the daemon's key rotation without DNS or a daemon: the state applied over the configured keys,
/// the last good key kept (never a domain without a key), the switch only after every resolver served the record long enough.</summary>
public sealed class KeyRotationTests : IDisposable
{
    private readonly TempDir _dir = new("key-rotation");
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero));
    private readonly CollectingLogger<KeyRotation> _log = new();
    private readonly SigningSection _signing;
    private readonly RotationStateFile _file;

    public KeyRotationTests()
    {
        _signing = new SigningSection { Keys = [new SigningKeyOptions { Domain = "example.com", Selector = "s1", KeyFile = WriteKey("s1") }] };
        _file = new RotationStateFile(_dir.File("key-rotation.json"));
    }

    public void Dispose() => _dir.Dispose();

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private string WriteKey(string selector)
    {
        using var key = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var path = _dir.File(selector + ".private");
        File.WriteAllText(path, key.ExportPkcs8Pem());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private KeyRotation NewRotation() => new(_file, KeyStore.Load(_signing, _time), _signing, _log, _time);

    private static string SelectorOf(KeyStore keys) => Assert.Single(keys.SignersFor("example.com")).Options.Selector;

    private RotationEntry Entry(string active, string? pending = null) => new()
    {
        Domain = "example.com",
        Algorithm = "ed25519-sha256",
        Active = new RotationKey { Selector = active, KeyFile = _dir.File(active + ".private") },
        Pending = pending is null ? null : new RotationKey { Selector = pending, KeyFile = _dir.File(pending + ".private"), CreatedAt = _time.Now },
    };

    private int Errors => _log.Entries.Count(e => e.Level == LogLevel.Error);

    [Fact]
    public void The_state_overrides_the_configured_key_it_rotates()
    {
        WriteKey("r20261204");
        _file.Write(new RotationState().With(Entry("r20261204")));
        var rotation = NewRotation();
        Assert.NotNull(rotation.Refresh());
        Assert.Equal("r20261204", SelectorOf(rotation.Effective));
        Assert.Null(rotation.Refresh()); // nothing changed: the same store, no new log line
    }

    [Fact]
    public void A_reload_without_a_rotation_state_gives_the_newly_configured_keys()
    {
        var rotation = NewRotation();
        rotation.Refresh();
        var reloaded = new SigningSection { Keys = [.. _signing.Keys!, new SigningKeyOptions { Domain = "example.com", Selector = "s2", KeyFile = WriteKey("s2") }] };
        var keys = rotation.Rebase(KeyStore.Load(reloaded, _time), reloaded);
        Assert.Equal(["s1", "s2"], keys.SignersFor("example.com").Select(s => s.Options.Selector).ToArray());
        Assert.Same(keys, rotation.Effective);
    }

    [Fact]
    public void An_active_key_that_is_missing_keeps_the_configured_key_with_one_error_line()
    {
        _file.Write(new RotationState().With(Entry("gone")));
        var rotation = NewRotation();
        rotation.Refresh();
        rotation.Refresh();
        Assert.Equal("s1", SelectorOf(rotation.Effective));
        Assert.Equal(1, Errors);
        var error = _log.Entries.Single(e => e.Level == LogLevel.Error).Message;
        Assert.Contains(_file.Path, error, StringComparison.Ordinal);
        Assert.Contains(_dir.File("gone.private") + " does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_state_that_turns_corrupt_or_loses_its_key_keeps_the_last_good_key()
    {
        WriteKey("r20261204");
        _file.Write(new RotationState().With(Entry("r20261204")));
        var rotation = NewRotation();
        rotation.Refresh();
        File.WriteAllText(_file.Path, "{ \"version\": 1, \"keys\": [");
        Assert.Null(rotation.Refresh());
        Assert.Equal("r20261204", SelectorOf(rotation.Effective));
        Assert.Equal(1, Errors);

        File.Delete(_dir.File("r20261204.private"));
        _file.Write(new RotationState().With(Entry("r20261204")));
        Assert.Null(rotation.Refresh());
        Assert.Equal("r20261204", SelectorOf(rotation.Effective));
        Assert.Equal(2, Errors);

        // A reload rebuilds the configured keys: the last good rotated key still applies over them.
        Assert.Equal("r20261204", SelectorOf(rotation.Rebase(KeyStore.Load(_signing, _time), _signing)));
    }

    [Fact]
    public void The_switch_waits_for_every_resolver_for_PublishedForMinutes_and_a_lapse_starts_the_wait_again()
    {
        WriteKey("r20261204");
        _file.Write(new RotationState().With(Entry("s1", pending: "r20261204")));
        var rotation = NewRotation();
        rotation.Refresh();
        var settings = new RotationSection { PublishedForMinutes = 60, RetireAfterDays = 7 };
        KeyRotation.Observation Seen(bool served) => new("example.com", "ed25519-sha256", "r20261204", served, served ? "" : "127.0.0.1:53: fail: no TXT record");

        Assert.Null(rotation.Advance([Seen(false)], settings));
        Assert.Null(_file.Read().Keys[0].Pending!.ServedSince);
        Assert.Null(rotation.Advance([Seen(true)], settings));
        Assert.Equal(_time.Now, _file.Read().Keys[0].Pending!.ServedSince);
        _time.Now += TimeSpan.FromMinutes(59);
        Assert.Null(rotation.Advance([Seen(true)], settings));
        Assert.Equal("s1", SelectorOf(rotation.Effective));

        // One resolver stops serving it: the wait starts again.
        Assert.Null(rotation.Advance([Seen(false)], settings));
        Assert.Null(_file.Read().Keys[0].Pending!.ServedSince);
        _time.Now += TimeSpan.FromMinutes(30);
        Assert.Null(rotation.Advance([Seen(true)], settings));
        _time.Now += TimeSpan.FromMinutes(60);
        var switched = rotation.Advance([Seen(true)], settings);
        Assert.NotNull(switched);
        Assert.Equal("r20261204", SelectorOf(switched));
        var entry = _file.Read().Keys[0];
        Assert.Equal("r20261204", entry.Active.Selector);
        Assert.Null(entry.Pending);
        Assert.Equal("s1", Assert.Single(entry.Retiring).Selector);
        Assert.Equal(_time.Now, entry.Retiring[0].SwitchedAt);
        Assert.Contains(_log.Entries, e => e.Message.Contains("the record of s1._domainkey.example.com can be removed after 2026-12-11T12:29:00Z", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pending_key_that_cannot_be_loaded_is_never_switched_to()
    {
        // The observation says served, but the pending key is gone: ObserveAsync reports it unserved, and the state stays.
        _file.Write(new RotationState().With(Entry("s1", pending: "missing")));
        var rotation = NewRotation();
        var seen = await rotation.ObserveAsync([], 1000);
        Assert.False(Assert.Single(seen).Served);
        Assert.Null(rotation.Advance(seen, new RotationSection { PublishedForMinutes = 0 }));
        Assert.Equal("s1", SelectorOf(rotation.Effective));
        Assert.Equal("missing", _file.Read().Keys[0].Pending!.Selector);
    }

    [Fact]
    public void No_resolver_at_all_is_never_every_resolver()
        => Assert.False(RotationDns.AllServed([]));
}
