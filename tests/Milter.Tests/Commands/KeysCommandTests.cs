using System.Text.Json;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>`milter keys rotate` and `keys status` without DNS: what rotate writes and refuses, and a state that cannot be
/// used. (With DNS and a daemon: KeyRotationDaemonTests.)</summary>
public sealed class KeysCommandTests : IDisposable
{
    private readonly TempDir _dir = new("keys-cli");

    public void Dispose() => _dir.Dispose();

    private string Key(string selector, DkimKeyType type)
    {
        using var key = DkimPrivateKey.Generate(type, type == DkimKeyType.Rsa ? 2048 : 0);
        var path = _dir.File(selector + ".private");
        File.WriteAllText(path, key.ExportPkcs8Pem());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>A config signing example.com with the given keys, the state in a data directory of its own, DNS nowhere
    /// (a blackhole address on loopback with a short timeout: `status` never asks the system resolver).</summary>
    private string Config(params (string Selector, DkimKeyType Type)[] keys)
    {
        var config = new
        {
            Dns = new { Servers = new[] { $"127.0.0.1:{FreePort.Next(alsoUdp: true)}" }, TimeoutMs = 200 },
            Signing = new { Keys = keys.Select(k => new { Domain = "example.com", k.Selector, KeyFile = Key(k.Selector, k.Type) }).ToArray() },
            Reports = new { DataDirectory = _dir.Sub("data") },
        };
        var path = _dir.File("milter.json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        return path;
    }

    private static Task<(int ExitCode, string StdOut, string StdErr)> Milter(params string[] args) => MilterDaemon.RunCliAsync(args);

    [Fact]
    public async Task Rotate_writes_a_0600_key_beside_the_current_one_and_records_it_pending_and_a_second_rotate_is_refused()
    {
        var config = Config(("s1", DkimKeyType.Rsa));
        var (code, stdout, stderr) = await Milter("keys", "rotate", "--domain", "Example.COM.", "--config", config);
        Assert.True(code == 0, stdout + stderr);
        var selector = $"r{DateTime.UtcNow:yyyyMMdd}";
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_dir.File(selector + ".private")));
        Assert.StartsWith($"{selector}._domainkey.example.com. IN TXT ( \"v=DKIM1; k=rsa; p=", File.ReadAllText(_dir.File(selector + ".txt")), StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", stdout, StringComparison.Ordinal);
        var state = File.ReadAllText(Path.Combine(_dir.Path, "data", "key-rotation.json"));
        Assert.Contains($"\"selector\": \"{selector}\"", state, StringComparison.Ordinal);
        Assert.Contains("\"selector\": \"s1\"", state, StringComparison.Ordinal);

        var (again, _, againErr) = await Milter("keys", "rotate", "--domain", "example.com", "--config", config);
        Assert.Equal(2, again);
        Assert.Contains($"has a pending rotation already (selector {selector}", againErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotate_as_root_gives_the_new_key_the_owner_of_the_current_one()
    {
        Assert.True(Environment.IsPrivilegedProcess, "this test needs root (the test command runs as root): it gives a key file to another user");
        var config = Config(("s1", DkimKeyType.Rsa));
        // The Debian package's layout: keys belong to the daemon's user (here nobody, 65534), rotate runs as root.
        Assert.Equal(0, (await ProcessRunner.RunAsync("/usr/bin/chown", ["65534:65534", _dir.File("s1.private")], TimeSpan.FromSeconds(30))).ExitCode);
        var (code, stdout, stderr) = await Milter("keys", "rotate", "--domain", "example.com", "--config", config);
        Assert.True(code == 0, stdout + stderr);
        var newKey = _dir.File($"r{DateTime.UtcNow:yyyyMMdd}.private");
        var ls = await ProcessRunner.RunAsync("/usr/bin/stat", ["-c", "%u:%g %a", newKey], TimeSpan.FromSeconds(30));
        Assert.Equal("65534:65534 600", ls.StdOut.Trim());
        Assert.Contains("the owner of", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotate_refuses_a_domain_without_a_key_and_asks_which_when_there_are_two_algorithms()
    {
        var config = Config(("rsa", DkimKeyType.Rsa), ("ed", DkimKeyType.Ed25519));
        var (none, _, noneErr) = await Milter("keys", "rotate", "--domain", "example.org", "--config", config);
        Assert.Equal(2, none);
        Assert.Equal("milter: keys rotate: no signing key of example.org in the config (Signing:Keys or Signing:Rules, a fixed domain and key file); configure one first (milter keygen)\n", noneErr);
        var (two, _, twoErr) = await Milter("keys", "rotate", "--domain", "example.com", "--config", config);
        Assert.Equal(2, two);
        Assert.Contains("choose one with --algorithm rsa or --algorithm ed25519", twoErr, StringComparison.Ordinal);
        var (bad, _, badErr) = await Milter("keys", "rotate", "--domain", "example.com", "--algorithm", "dsa", "--config", config);
        Assert.Equal(2, bad);
        Assert.Contains("--algorithm must be rsa or ed25519, not 'dsa'", badErr, StringComparison.Ordinal);

        var (ok, stdout, stderr) = await Milter("keys", "rotate", "--domain", "example.com", "--algorithm", "ed25519", "--config", config);
        Assert.True(ok == 0, stdout + stderr);
        Assert.Contains($"selector e{DateTime.UtcNow:yyyyMMdd} is pending", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_names_a_corrupt_state_file_and_a_pending_key_that_is_missing()
    {
        var config = Config(("s1", DkimKeyType.Ed25519));
        var statePath = Path.Combine(_dir.Path, "data", "key-rotation.json");
        var (fine, fineText, _) = await Milter("keys", "status", "--config", config);
        Assert.True(fine == 0, fineText);
        Assert.Contains("example.com ed25519-sha256: active selector s1", fineText, StringComparison.Ordinal);

        File.WriteAllText(statePath, "{ \"version\": 1, \"keys\": [ {");
        var (corrupt, corruptText, _) = await Milter("keys", "status", "--config", config);
        Assert.Equal(1, corrupt);
        Assert.Contains($"error: rotation state {statePath} is corrupt: not valid JSON", corruptText, StringComparison.Ordinal);
        Assert.Contains("example.com ed25519-sha256: active selector s1", corruptText, StringComparison.Ordinal);

        File.WriteAllText(statePath, $$"""
            { "version": 1, "keys": [ { "domain": "example.com", "algorithm": "ed25519-sha256",
              "active": { "selector": "s1", "keyFile": "{{_dir.File("s1.private")}}" },
              "pending": { "selector": "e20261204", "keyFile": "{{_dir.File("gone.private")}}" } } ] }
            """);
        var (missing, missingText, _) = await Milter("keys", "status", "--config", config, "--json");
        Assert.Equal(1, missing);
        var pending = JsonDocument.Parse(missingText).RootElement.GetProperty("keys")[0].GetProperty("pending");
        Assert.Contains($"key file {_dir.File("gone.private")} does not exist", pending.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(pending.GetProperty("served").GetBoolean());
    }
}
