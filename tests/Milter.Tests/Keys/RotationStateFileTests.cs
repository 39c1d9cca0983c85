using Milter.Configuration;
using Milter.Keys.Rotation;
using Milter.TestKit;

namespace Milter.Tests.Keys;

/// <summary>Issue 18 part 4: the rotation state file, key-rotation.json: read, checked, written atomically, updated under a lock.</summary>
public sealed class RotationStateFileTests
{
    private static RotationEntry Entry(string domain, string selector = "s1") => new()
    {
        Domain = domain,
        Algorithm = "rsa-sha256",
        Active = new RotationKey { Selector = selector, KeyFile = $"/etc/milter/keys/{selector}.private" },
    };

    [Fact]
    public void A_missing_file_is_an_empty_state_and_a_written_state_reads_back_the_same()
    {
        using var dir = new TempDir("rotation-state");
        var file = new RotationStateFile(dir.File("key-rotation.json"));
        Assert.Empty(file.Read().Keys);
        var when = new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero);
        var state = new RotationState().With(Entry("example.com") with
        {
            Pending = new RotationKey { Selector = "r20261204", KeyFile = "/etc/milter/keys/r20261204.private", CreatedAt = when, ServedSince = when },
        });
        file.Write(state);
        var read = file.Read();
        var entry = Assert.Single(read.Keys);
        Assert.Equal("example.com", entry.Domain);
        Assert.Equal("r20261204", entry.Pending!.Selector);
        Assert.Equal(when, entry.Pending.ServedSince);
        Assert.Contains("\"servedSince\"", File.ReadAllText(file.Path), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"version\": 1, \"keys\": [ { \"domain\": \"example.com\"", "is corrupt: not valid JSON")]
    [InlineData("", "is corrupt: not valid JSON")]
    [InlineData("[]", "is corrupt")]
    [InlineData("{ \"version\": 2, \"keys\": [] }", "version 2 is not 1")]
    [InlineData("{ \"version\": 1, \"keys\": [ { \"domain\": \"example.com\", \"algorithm\": \"rsa-sha256\" } ] }", "is corrupt")]
    [InlineData("{ \"version\": 1, \"keys\": [ { \"domain\": \"example.com\", \"algorithm\": \"rsa-sha1\", \"active\": { \"selector\": \"s\", \"keyFile\": \"/k\" } } ] }", "algorithm \"rsa-sha1\"")]
    [InlineData("{ \"version\": 1, \"keys\": [ { \"domain\": \"example.com\", \"algorithm\": \"rsa-sha256\", \"active\": { \"selector\": \"s\", \"keyFile\": \"k.private\" } } ] }", "is not an absolute path")]
    [InlineData("{ \"version\": 1, \"keys\": [ { \"domain\": \"example.com\", \"algorithm\": \"rsa-sha256\", \"active\": { \"selector\": \"a b\", \"keyFile\": \"/k\" } } ] }", "is not a selector")]
    [InlineData("{ \"version\": 1, \"keys\": [ { \"domain\": \"example.com\", \"algorithm\": \"rsa-sha256\", \"active\": { \"selector\": null, \"keyFile\": \"/k\" } } ] }", "is corrupt")]
    public void A_corrupt_state_is_an_error_naming_the_file_and_the_problem(string text, string problem)
    {
        using var dir = new TempDir("rotation-state");
        var file = new RotationStateFile(dir.File("key-rotation.json"));
        File.WriteAllText(file.Path, text);
        var e = Assert.Throws<RotationStateException>(file.Read);
        Assert.Contains(file.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_write_replaces_the_file_by_rename_a_reader_of_the_old_file_sees_it_whole_and_no_temporary_file_is_left()
    {
        using var dir = new TempDir("rotation-state");
        var file = new RotationStateFile(dir.File("key-rotation.json"));
        file.Write(new RotationState().With(Entry("old.example")));
        var oldText = File.ReadAllText(file.Path);
        using var reader = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        file.Write(new RotationState().With(Entry("new.example")).With(Entry("other.example")));
        // The open file is the old inode, whole: a write never truncates the file in place.
        Assert.Equal(oldText, new StreamReader(reader).ReadToEnd());
        Assert.Equal(2, file.Read().Keys.Count);
        Assert.Equal(["key-rotation.json"], Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f)).ToArray());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(file.Path));
    }

    [Fact]
    public async Task Concurrent_updates_lose_nothing()
    {
        using var dir = new TempDir("rotation-state");
        var path = dir.File("key-rotation.json");
        // Each update on its own instance, as `keys rotate` and the daemon are separate processes.
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            new RotationStateFile(path).Update(s => s.With(Entry($"d{i}.example"))))));
        Assert.Equal(20, new RotationStateFile(path).Read().Keys.Count);
    }

    [Fact]
    public void An_update_that_changes_nothing_writes_nothing_and_one_that_throws_leaves_the_state()
    {
        using var dir = new TempDir("rotation-state");
        var file = new RotationStateFile(dir.File("key-rotation.json"));
        file.Update(s => s);
        Assert.False(file.Exists);
        file.Write(new RotationState().With(Entry("example.com")));
        var before = File.ReadAllText(file.Path);
        Assert.Throws<RotationStateException>(() => file.Update(_ => throw new RotationStateException("no")));
        Assert.Equal(before, File.ReadAllText(file.Path));
    }

    [Fact]
    public void The_state_lives_in_Reports_DataDirectory_or_where_a_state_exists_already()
    {
        using var dir = new TempDir("rotation-state");
        var configured = RotationStateFile.For(new ReportsSection { DataDirectory = dir.Sub("data") });
        Assert.Equal(Path.Combine(dir.Path, "data", "key-rotation.json"), configured.Path);

        // Unset: the system directory when it holds a state, else the first writable of it and the user's state directory.
        var system = dir.Sub("var-lib-milter");
        var home = dir.Sub("home");
        string? Env(string name) => name == "HOME" ? home : null;
        var user = Path.Combine(home, ".local", "state", "milter", "key-rotation.json");
        File.SetUnixFileMode(system, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        if (Environment.UserName != "root")
            Assert.Equal(user, RotationStateFile.For(new ReportsSection(), Env, system).Path);
        File.SetUnixFileMode(system, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(Path.Combine(system, "key-rotation.json"), RotationStateFile.For(new ReportsSection(), Env, system).Path);
        Directory.CreateDirectory(Path.GetDirectoryName(user)!);
        File.WriteAllText(user, "{}");
        Assert.Equal(user, RotationStateFile.For(new ReportsSection(), Env, system).Path);
    }
}
