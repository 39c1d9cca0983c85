using System.Text.Json;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.Tests.Fixtures;
using Xunit.Abstractions;

namespace Milter.Tests.Daemon;

/// <summary>Issue 18 part 4: key rotation with a real `milter run`, two Knot servers as its resolvers, dkimpy as the receiver.</summary>
public sealed class KeyRotationDaemonTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>3 s of "served by every resolver" before the switch; the old record removable 20 s after it.</summary>
    private const double PublishedForMinutes = 0.05;
    private const double RetireAfterSeconds = 20;

    [Fact]
    public async Task A_record_published_late_is_switched_to_only_once_every_resolver_serves_it_and_mail_before_and_after_verifies()
    {
        await using var lab = await RotationLab.StartAsync(PublishedForMinutes, RetireAfterSeconds / 86_400);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"], lab.Environment);
        await using var client = await RotationLab.ConnectAsync(port);
        var (first, firstSelector) = await RotationLab.SendAsync(client, "before the rotation");
        Assert.Equal("rsa", firstSelector);

        // keys rotate: a new date-based selector, the key beside the current one (0600), the record printed and written.
        var (code, stdout, stderr) = await lab.KeysAsync("rotate", "--domain", "example.test");
        Assert.True(code == 0, stdout + stderr);
        var selector = Regex.Match(stdout, @"selector (\S+) is pending").Groups[1].Value;
        Assert.Matches($"^r{DateTime.UtcNow:yyyyMMdd}$", selector);
        var keyFile = lab.Lab.Dir.File(selector + ".private");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Contains($"{selector}._domainkey.example.test. IN TXT (", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(lab.Lab.Dir.File(selector + ".txt")));
        Assert.DoesNotContain("PRIVATE KEY", stdout + stderr + daemon.Output, StringComparison.Ordinal);
        var record = await RotationLab.RecordOfAsync(keyFile);

        // Not published: the daemon reads the new state (no SIGHUP) and keeps signing with the old key.
        var status = await lab.StatusJsonAsync();
        var pending = status.GetProperty("keys")[0].GetProperty("pending");
        Assert.Equal(selector, pending.GetProperty("selector").GetString());
        Assert.False(pending.GetProperty("served").GetBoolean());
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Equal("rsa", (await RotationLab.SendAsync(client, "pending, unpublished")).Selector);

        // Published on one of the two resolvers: still not served by every one.
        await lab.PublishAsync(lab.First, selector + "._domainkey", record);
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.Equal("rsa", (await RotationLab.SendAsync(client, "published on one resolver")).Selector);
        Assert.DoesNotContain("is served by every resolver", daemon.Output, StringComparison.Ordinal);
        var (oneCode, oneText, _) = await lab.KeysAsync("status");
        Assert.True(oneCode == 0, oneText);
        Assert.Contains($"127.0.0.1:{lab.Second.Port}: fail: no TXT record at {selector}._domainkey.example.test", oneText, StringComparison.Ordinal);
        Assert.DoesNotContain($"127.0.0.1:{lab.First.Port}: fail", oneText, StringComparison.Ordinal);

        // On both: served, and after PublishedForMinutes the daemon switches by itself, on the same connection.
        await lab.PublishAsync(lab.Second, selector + "._domainkey", record);
        Assert.True(await daemon.WaitForOutputAsync($"switched from selector rsa to {selector}", Wait), daemon.Output);
        var servedAt = LineTime(daemon.Output, "is served by every resolver");
        var switchedAt = LineTime(daemon.Output, "switched from selector rsa");
        output.WriteLine($"served {servedAt:O}, switched {switchedAt:O}");
        Assert.True(switchedAt - servedAt >= TimeSpan.FromMinutes(PublishedForMinutes) - TimeSpan.FromMilliseconds(50),
            $"switched {switchedAt - servedAt} after the record was served:\n{daemon.Output}");
        var (after, afterSelector) = await RotationLab.SendAsync(client, "after the switch");
        Assert.Equal(selector, afterSelector);

        // What a receiver sees: both verify (the old record is still published).
        Assert.True((await lab.VerifyAsync(first)).Pass, "before");
        Assert.True((await lab.VerifyAsync(after)).Pass, "after");

        // A reload and a restart keep the switch: the state file is the truth.
        Assert.True(UnixProcess.Signal(daemon.Pid, 1));
        Assert.True(await daemon.WaitForOutputAsync("reload: config and 1 signing key(s) loaded", Wait), daemon.Output);
        Assert.Equal(selector, (await RotationLab.SendAsync(client, "after a reload")).Selector);
        await client.DisposeAsync();
        await daemon.StopAsync();
        var port2 = FreePort.Next();
        await using var restarted = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port2}@127.0.0.1"], lab.Environment);
        await using var client2 = await RotationLab.ConnectAsync(port2);
        var (restartedMessage, restartedSelector) = await RotationLab.SendAsync(client2, "after a restart");
        Assert.Equal(selector, restartedSelector);
        Assert.True((await lab.VerifyAsync(restartedMessage)).Pass, "after a restart");

        // keys status: the new key active, the old one retiring, removable RetireAfterDays after the switch.
        var retiring = (await lab.StatusJsonAsync()).GetProperty("keys")[0];
        Assert.Equal(selector, retiring.GetProperty("active").GetProperty("selector").GetString());
        Assert.Equal(JsonValueKind.Null, retiring.GetProperty("pending").ValueKind);
        var old = retiring.GetProperty("retiring")[0];
        Assert.Equal("rsa", old.GetProperty("selector").GetString());
        var removableAfter = DateTimeOffset.Parse(old.GetProperty("removableAfter").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(removableAfter - switchedAt, TimeSpan.FromSeconds(RetireAfterSeconds - 2), TimeSpan.FromSeconds(RetireAfterSeconds + 2));
        if (DateTimeOffset.UtcNow < removableAfter)
        {
            Assert.False(old.GetProperty("removable").GetBoolean());
            var (_, keepText, _) = await lab.KeysAsync("status");
            Assert.Contains("keep the record rsa._domainkey.example.test until", keepText, StringComparison.Ordinal);
            await Task.Delay(removableAfter - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
        }
        var (doneCode, doneText, _) = await lab.KeysAsync("status");
        output.WriteLine(doneText);
        Assert.True(doneCode == 0, doneText);
        Assert.Contains("retiring selector rsa", doneText, StringComparison.Ordinal);
        Assert.Contains("removable: the record rsa._domainkey.example.test can be removed", doneText, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", daemon.Output + restarted.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupt_state_or_one_naming_a_missing_key_keeps_the_last_good_key_with_an_error_line_and_status_names_the_file()
    {
        await using var lab = await RotationLab.StartAsync(publishedForMinutes: 0, retireAfterDays: 7);
        // A finished rotation to r1 (published on both resolvers), then the daemon starts on it.
        Assert.Equal(0, (await lab.KeysAsync("rotate", "--domain", "example.test")).ExitCode);
        var state = await File.ReadAllTextAsync(lab.StatePath);
        var selector = Regex.Match(state, "\"pending\":\\s*\\{\\s*\"selector\":\\s*\"([^\"]+)\"").Groups[1].Value;
        var record = await RotationLab.RecordOfAsync(lab.Lab.Dir.File(selector + ".private"));
        await lab.PublishAsync(lab.First, selector + "._domainkey", record);
        await lab.PublishAsync(lab.Second, selector + "._domainkey", record);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"], lab.Environment);
        Assert.True(await daemon.WaitForOutputAsync($"switched from selector rsa to {selector}", Wait), daemon.Output);
        await using var client = await RotationLab.ConnectAsync(port);
        Assert.Equal(selector, (await RotationLab.SendAsync(client, "rotated")).Selector);
        var good = await File.ReadAllTextAsync(lab.StatePath);

        // Corrupt: one error line (not one per check or message); the rotated key stays, not the configured one.
        await File.WriteAllTextAsync(lab.StatePath, good[..(good.Length / 2)]);
        Assert.True(await daemon.WaitForOutputAsync("is corrupt", Wait), daemon.Output);
        await Task.Delay(TimeSpan.FromSeconds(4));
        for (var i = 0; i < 3; i++) Assert.Equal(selector, (await RotationLab.SendAsync(client, "corrupt state " + i)).Selector);
        Assert.Single(Regex.Matches(daemon.Output, "is corrupt"));
        Assert.Contains(lab.StatePath, daemon.Output, StringComparison.Ordinal);
        var (code, stdout, _) = await lab.KeysAsync("status");
        Assert.True(code == 1, stdout);
        Assert.Contains($"error: rotation state {lab.StatePath} is corrupt", stdout, StringComparison.Ordinal);

        // A state naming a key file that is gone: the same.
        var missing = lab.Lab.Dir.File("gone.private");
        await File.WriteAllTextAsync(lab.StatePath, good.Replace(lab.Lab.Dir.File(selector + ".private"), missing, StringComparison.Ordinal));
        Assert.True(await daemon.WaitForOutputAsync($"key file {missing} does not exist", Wait), daemon.Output);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(selector, (await RotationLab.SendAsync(client, "missing key")).Selector);
        Assert.Single(Regex.Matches(daemon.Output, Regex.Escape($"key file {missing} does not exist")));
        var (missingCode, missingText, _) = await lab.KeysAsync("status");
        Assert.True(missingCode == 1, missingText);
        Assert.Contains($"error: active key: key file {missing} does not exist", missingText, StringComparison.Ordinal);

        // Repaired: back to normal without a restart.
        await File.WriteAllTextAsync(lab.StatePath, good);
        Assert.Equal(0, (await lab.KeysAsync("status")).ExitCode);
        Assert.False(daemon.HasExited);
    }

    /// <summary>The UTC time at the start of the first log line containing <paramref name="text"/>.</summary>
    private static DateTimeOffset LineTime(string log, string text)
    {
        var line = log.Split('\n').First(l => l.Contains(text, StringComparison.Ordinal));
        return DateTimeOffset.Parse(line[..line.IndexOf(' ', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
    }
}
