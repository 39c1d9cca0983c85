using System.Text.Json;
using Microsoft.Extensions.Logging;
using Milter.Reporting;

namespace Milter.Tests.Reporting;

public sealed class VerificationLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-vlog-").FullName;
    private readonly CollectingLogger<VerificationLog> _logger = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VerificationRecord Record(int n) => new()
    {
        Time = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
        QueueId = $"Q{n}",
        ClientAddress = "192.0.2.1",
        Helo = "mail.example.com",
        MailFrom = "a@example.com",
        FromDomain = "example.com",
        Dkim = [new DkimRecordEntry("pass", "example.com", "s1", "rsa-sha256", "@example.com", null)],
        Spf = new SpfRecordEntry("pass", "example.com", "ok"),
        Dmarc = new DmarcRecordEntry("pass", "example.com", "reject", "none"),
        Arc = "none",
        Signed = [new SignedEntry("example.org", "s2026", "ed25519-sha256")],
        Action = "continue",
        ElapsedMs = 1.5,
    };

    private VerificationLog Open(string path, Action<VerificationLogOptions>? configure = null)
    {
        var options = new VerificationLogOptions { Path = path };
        configure?.Invoke(options);
        return new VerificationLog(options, _logger, TimeProvider.System);
    }

    [Fact]
    public async Task WritesOneCamelCaseJsonLinePerRecord()
    {
        string path = Path.Combine(_dir, "v.jsonl");
        await using (var log = Open(path))
        {
            Assert.True(log.TryWrite(Record(1)));
            Assert.True(log.TryWrite(Record(2) with { Spf = null, Dkim = [] }));
        }

        var lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        var root = first.RootElement;
        Assert.Equal("Q1", root.GetProperty("queueId").GetString());
        Assert.Equal("2026-01-02T03:04:05+00:00", root.GetProperty("time").GetString());
        Assert.Equal("192.0.2.1", root.GetProperty("clientAddress").GetString());
        Assert.Equal("example.com", root.GetProperty("fromDomain").GetString());
        var dkim = root.GetProperty("dkim")[0];
        Assert.Equal("pass", dkim.GetProperty("result").GetString());
        Assert.Equal("@example.com", dkim.GetProperty("headerI").GetString());
        Assert.Equal(JsonValueKind.Null, dkim.GetProperty("reason").ValueKind);
        Assert.Equal("ok", root.GetProperty("spf").GetProperty("explanation").GetString());
        Assert.Equal("reject", root.GetProperty("dmarc").GetProperty("policy").GetString());
        Assert.Equal("ed25519-sha256", root.GetProperty("signed")[0].GetProperty("algorithm").GetString());
        Assert.Equal("continue", root.GetProperty("action").GetString());
        Assert.Equal(1.5, root.GetProperty("elapsedMs").GetDouble());

        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("spf").ValueKind);
        Assert.Equal(0, second.RootElement.GetProperty("dkim").GetArrayLength());
    }

    [Fact]
    public async Task ManyConcurrentWriters_EveryRecordOnItsOwnLine()
    {
        string path = Path.Combine(_dir, "v.jsonl");
        const int writers = 8, each = 500;
        VerificationLog log = Open(path, o => o.MaxBatch = 17);
        await using (log)
        {
            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() =>
            {
                for (int i = 0; i < each; i++)
                    Assert.True(log.TryWrite(Record((w * each) + i)));
            })));
        }

        var ids = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("queueId").GetString()).ToList();
        Assert.Equal(writers * each, ids.Count);
        Assert.Equal(writers * each, ids.Distinct().Count());
        Assert.Equal(writers * each, log.WrittenCount);
        Assert.Equal(0, log.DroppedCount);
    }

    [Fact]
    public async Task DisposeFlushesEverythingQueued()
    {
        string path = Path.Combine(_dir, "v.jsonl");
        var log = Open(path, o => o.MaxBatch = 10);
        for (int i = 0; i < 1000; i++)
            Assert.True(log.TryWrite(Record(i)));
        await log.DisposeAsync();

        Assert.Equal(1000, File.ReadAllLines(path).Length);
        Assert.False(log.TryWrite(Record(1001)));
        Assert.Equal(0, log.DroppedCount);
    }

    public static TheoryData<string> UnwritablePaths() => new() { "directory", "under-a-file" };

    [Theory]
    [MemberData(nameof(UnwritablePaths))]
    public async Task UnwritablePath_LogsOneErrorPerInterval_NeverThrowsOrBlocks(string kind)
    {
        string path;
        if (kind == "directory")
        {
            path = Path.Combine(_dir, "is-a-directory");
            Directory.CreateDirectory(path);
        }
        else
        {
            string file = Path.Combine(_dir, "plain-file");
            File.WriteAllText(file, "x");
            path = Path.Combine(file, "v.jsonl");
        }

        var log = Open(path, o => o.MaxBatch = 1);
        var writing = Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
                log.TryWrite(Record(i));
        });
        await writing.WaitAsync(TimeSpan.FromSeconds(10));
        await log.DisposeAsync();

        Assert.Equal(1, _logger.Count(LogLevel.Error));
        Assert.Contains(path, _logger.Entries.Single(e => e.Level == LogLevel.Error).Message, StringComparison.Ordinal);
        Assert.Equal(200, log.LostCount + log.DroppedCount);
        Assert.Equal(0, log.WrittenCount);
    }

    [Fact]
    public async Task OpensTheFileAgainLater_OnceItCanBeWritten()
    {
        string missingDir = Path.Combine(_dir, "later");
        string path = Path.Combine(missingDir, "v.jsonl");
        await using var log = Open(path, o => o.RetryInterval = TimeSpan.FromMilliseconds(50));

        Assert.True(log.TryWrite(Record(1)));
        for (int i = 0; i < 200 && log.LostCount == 0; i++)
            await Task.Delay(10);
        Assert.Equal(1, log.LostCount);

        Directory.CreateDirectory(missingDir);
        for (int i = 0; i < 500 && log.WrittenCount == 0; i++)
        {
            log.TryWrite(Record(2));
            await Task.Delay(10);
        }
        Assert.True(log.WrittenCount > 0);
        Assert.True(File.Exists(path));
        Assert.Equal(1, _logger.Count(LogLevel.Error));
    }

    [Fact]
    public async Task FullQueue_DropsAtOnce_CountsAndWarnsOnce()
    {
        // The writer is held inside the logger while reporting that the path cannot be opened, so the
        // queue fills deterministically; TryWrite must then refuse at once instead of waiting.
        using var held = new ManualResetEventSlim(false);
        using var writerHeld = new ManualResetEventSlim(false);
        _logger.OnLog = level =>
        {
            if (level == LogLevel.Error)
            {
                writerHeld.Set();
                held.Wait(TimeSpan.FromSeconds(30));
            }
        };
        string path = Path.Combine(_dir, "missing", "v.jsonl");
        var log = Open(path, o => { o.Capacity = 4; o.MaxBatch = 1; });
        try
        {
            Assert.True(log.TryWrite(Record(0)));
            Assert.True(writerHeld.Wait(TimeSpan.FromSeconds(10)), "the writer never reported the unopenable path");

            var results = await Task.Run(() => Enumerable.Range(1, 20).Select(i => log.TryWrite(Record(i))).ToList())
                .WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(4, results.Count(r => r));
            Assert.Equal(16, results.Count(r => !r));
            Assert.Equal(16, log.DroppedCount);
            var warning = Assert.Single(_logger.Entries, e => e.Level == LogLevel.Warning);
            Assert.Contains("dropped", warning.Message, StringComparison.Ordinal);
        }
        finally
        {
            held.Set();
            await log.DisposeAsync();
        }
        // The five accepted records (the held one and the four queued) are lost to the missing directory.
        Assert.Equal(5, log.LostCount);
        Assert.Equal(0, log.WrittenCount);
    }

    [Fact]
    public async Task NoPath_IsOff()
    {
        await using var log = new VerificationLog(new VerificationLogOptions(), _logger, TimeProvider.System);
        Assert.False(log.Enabled);
        Assert.False(log.TryWrite(Record(1)));
        Assert.Equal(0, log.DroppedCount);
    }

    [Fact]
    public async Task UnserialisableRecord_IsLostAndLogged_OthersStillWritten()
    {
        string path = Path.Combine(_dir, "v.jsonl");
        var log = Open(path);
        Assert.True(log.TryWrite(Record(1)));
        Assert.True(log.TryWrite(Record(2) with { ElapsedMs = double.NaN }));
        Assert.True(log.TryWrite(Record(3)));
        await log.DisposeAsync();

        var ids = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("queueId").GetString());
        Assert.Equal(["Q1", "Q3"], ids);
        Assert.Equal(1, log.LostCount);
        Assert.Equal(1, _logger.Count(LogLevel.Error));
    }
}
