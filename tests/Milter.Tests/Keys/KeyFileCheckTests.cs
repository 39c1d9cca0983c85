using System.Diagnostics;
using Milter.Configuration;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Keys;

/// <summary>Issue 13 defect 7: key files that are world-writable, FIFOs or endless devices are refused at load,
/// whatever AllowGroupReadableKeys says, and a key file is read with a bound.</summary>
public sealed class KeyFileCheckTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new("keyfile-check");

    public void Dispose() => _dir.Dispose();

    private static SigningSection Signing(string keyFile, bool allowGroupReadable) => new()
    {
        AllowGroupReadableKeys = allowGroupReadable,
        Keys = [new SigningKeyOptions { Domain = "example.test", Selector = "s1", KeyFile = keyFile }],
    };

    private string WriteKey(UnixFileMode mode)
    {
        var path = _dir.File($"key-{Guid.NewGuid():N}.pem");
        using var key = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        File.WriteAllText(path, key.ExportPkcs8Pem());
        TempDir.SetMode(path, mode);
        return path;
    }

    /// <summary>KeyStore.Load on a worker thread with a time limit (a FIFO used to block it for ever).</summary>
    private static async Task<ConfigException> LoadFailsAsync(SigningSection signing)
    {
        var load = Task.Run(() => KeyStore.Load(signing, TimeProvider.System));
        var done = await Task.WhenAny(load, Task.Delay(Generous));
        Assert.True(done == load, $"KeyStore.Load did not return within {Generous.TotalSeconds} s");
        var error = await Assert.ThrowsAsync<ConfigException>(() => load);
        return error;
    }

    [Fact]
    public async Task A_world_writable_key_is_refused_even_with_AllowGroupReadableKeys()
    {
        var path = WriteKey((UnixFileMode)0x1B6); // 0666
        var error = await LoadFailsAsync(Signing(path, allowGroupReadable: true));
        Assert.Contains("writable by everyone", error.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_group_readable_key_still_loads_with_AllowGroupReadableKeys()
    {
        var path = WriteKey((UnixFileMode)0x1A4); // 0644
        Assert.Equal(1, KeyStore.Load(Signing(path, allowGroupReadable: true), TimeProvider.System).Count);
    }

    [Fact]
    public async Task A_fifo_as_key_file_is_refused_at_once()
    {
        var fifo = _dir.File("key.fifo");
        var made = await ProcessRunner.RunAsync("mkfifo", [fifo], TimeSpan.FromSeconds(10));
        Assert.True(made.ExitCode == 0, made.StdErr);
        TempDir.SetMode(fifo, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            var error = await LoadFailsAsync(Signing(fifo, allowGroupReadable: false));
            Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
            Assert.Contains("FIFO", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            // Unblocks a reader left by a failing run (open for writing without blocking, then close).
            using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite);
        }
    }

    [Fact]
    public async Task Dev_zero_as_key_file_is_refused_without_reading_it()
    {
        var stopwatch = Stopwatch.StartNew();
        var error = await LoadFailsAsync(Signing("/dev/zero", allowGroupReadable: true));
        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < Generous);
    }

    [Fact]
    public void Reading_is_bounded_to_64_KB()
    {
        var path = _dir.File("big.pem");
        File.WriteAllText(path, new string('x', KeyFileCheck.MaxBytes + 1));
        var error = Assert.Throws<IOException>(() => KeyFileCheck.ReadBounded(path));
        Assert.Contains("larger than", error.Message, StringComparison.Ordinal);
        File.WriteAllText(path, new string('x', KeyFileCheck.MaxBytes));
        Assert.Equal(KeyFileCheck.MaxBytes, KeyFileCheck.ReadBounded(path).Length);
    }

    [Fact]
    public async Task The_cli_refuses_a_fifo_key_with_exit_2()
    {
        var fifo = _dir.File("cli.fifo");
        var made = await ProcessRunner.RunAsync("mkfifo", [fifo], TimeSpan.FromSeconds(10));
        Assert.True(made.ExitCode == 0, made.StdErr);
        try
        {
            var (code, _, stderr) = await MilterDaemon.RunCliAsync(
                ["testkey", "--domain", "example.test", "--selector", "s1", "--key", fifo, "--dns", "127.0.0.1:9"],
                timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(2, code);
            Assert.Contains("not a regular file", stderr, StringComparison.Ordinal);
        }
        finally
        {
            using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite);
        }
    }
}
