using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.Protocol;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.Tests.Fixtures;
using Xunit.Abstractions;

namespace Milter.Tests.Daemon;

/// <summary>
/// Hostile clients against a real `milter run` on loopback (trickling bytes, partial 1 MiB frames, idle
/// floods past MaxConnections, malformed frames) while a normal MTA session runs again and again: each must
/// complete within 1 s, the daemon's RSS must stay under a stated bound and come back down, and the log
/// must stay a few lines long.
/// </summary>
[Collection(nameof(AdversarialDaemonTests))]
public sealed class AdversarialDaemonTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>900 partial frames of 1 MiB held 1 GB before the buffer budget; with it (64 MiB, plus one 64 KiB
    /// segment per connection) the daemon measured about 200 MB.</summary>
    private const long RssBoundMb = 400;
    private static readonly TimeSpan SessionBound = TimeSpan.FromSeconds(1);

    private readonly List<Socket> _hostile = [];
    private BlackholeDnsServer? _dns;
    private TempDir? _dir;

    public async Task InitializeAsync()
    {
        _dns = await BlackholeDnsServer.StartAsync();
        _dir = new TempDir("milter-adversarial");
    }

    public async Task DisposeAsync()
    {
        foreach (var s in _hostile) s.Dispose();
        if (_dns is not null) await _dns.DisposeAsync();
        _dir?.Dispose();
    }

    /// <summary>A daemon that looks nothing up (SPF and DMARC off, no DKIM-Signature in the mail; any lookup
    /// would go to a silent resolver on loopback and show up as a slow session).</summary>
    private async Task<(MilterDaemon Daemon, int Port)> StartDaemon(string server)
    {
        var port = FreePort.Next();
        var config = _dir!.File($"milter-{port}.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "Listen": [ "inet:{{port}}@127.0.0.1" ],
              "Dns": { "Servers": [ "127.0.0.1:{{_dns!.Port}}" ] },
              "Spf": { "Enabled": false },
              "Dmarc": { "Enabled": false },
              "Server": { {{server}} }
            }
            """);
        var daemon = await MilterDaemon.StartAsync(["--config", config]);
        // Two sessions before any flood, so the first measured one does not pay for JIT compilation.
        for (var i = 0; i < 2; i++) await OneSession(ListenSpec.Parse($"inet:{port}@127.0.0.1"));
        return (daemon, port);
    }

    private static long RssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
        }
        throw new InvalidOperationException("no VmRSS");
    }

    private static readonly MilterTransaction Tx = new()
    {
        Sender = "<alice@example.test>",
        Recipients = ["<bob@example.org>"],
        Headers = [new("From", " alice@example.test"), new("Subject", " normal")],
        Body = Encoding.ASCII.GetBytes("Hello\r\n"),
    };

    /// <summary>Runs whole sessions (negotiate, connect, helo, one message, quit) back to back until
    /// <paramref name="stop"/>; returns how long each took.</summary>
    private static async Task<List<TimeSpan>> NormalSessions(int port, CancellationToken stop)
    {
        var spec = ListenSpec.Parse($"inet:{port}@127.0.0.1");
        var times = new List<TimeSpan>();
        while (!stop.IsCancellationRequested)
        {
            times.Add(await OneSession(spec));
            try { await Task.Delay(200, stop); } catch (OperationCanceledException) { }
        }
        return times;
    }

    private static async Task<TimeSpan> OneSession(ListenSpec spec)
    {
        var sw = Stopwatch.StartNew();
        await using var client = await MilterClient.ConnectAsync(spec, TimeSpan.FromSeconds(10));
        await client.NegotiateAsync();
        Assert.True((await client.ConnectAsync("mta.example.test", ConnectFamily.IPv4, 25000, "192.0.2.10")).IsContinue);
        await client.HeloAsync("mta.example.test");
        var r = await client.SendMessageAsync(Tx);
        Assert.Equal(MilterResponseCode.Continue, r.Reply.Code);
        await client.QuitAsync();
        return sw.Elapsed;
    }

    private void Report(string what, List<TimeSpan> times)
    {
        output.WriteLine($"{what}: {times.Count} normal sessions, slowest {string.Join(", ", times.OrderDescending().Take(3).Select(t => $"{t.TotalMilliseconds:F0}"))} ms");
        Assert.NotEmpty(times);
        Assert.All(times, t => Assert.True(t < SessionBound, $"a normal session took {t.TotalMilliseconds:F0} ms under {what}"));
    }

    private async Task<Socket> Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_hostile) _hostile.Add(s);
        await s.ConnectAsync(IPAddress.Loopback, port);
        return s;
    }

    private static byte[] Frame(uint length, byte command, int bytes)
    {
        var b = new byte[bytes];
        BinaryPrimitives.WriteUInt32BigEndian(b, length);
        if (bytes > 4) b[4] = command;
        return b;
    }

    private static byte[] OptNeg()
    {
        var b = Frame(13, MilterCommand.OptNeg, 17);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(5), 6);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(9), 0x1FF);
        return b;
    }

    /// <summary>Seconds until the daemon closes the socket (reads until EOF or reset), or null after the bound.</summary>
    private static async Task<double?> SecondsToClose(Socket s, Stopwatch since, TimeSpan bound)
    {
        using var cts = new CancellationTokenSource(bound);
        var buffer = new byte[1024];
        try
        {
            while (await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0) { }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException) { }
        return since.Elapsed.TotalSeconds;
    }

    [Fact]
    public async Task Partial_frame_flood_keeps_rss_bounded_and_it_comes_back_down()
    {
        var (daemon, port) = await StartDaemon("\"MaxConnections\": 1000");
        await using var _ = daemon;
        var baseline = RssMb(daemon.Pid);
        using var stop = new CancellationTokenSource();
        var normal = NormalSessions(port, stop.Token);

        // 900 connections, each sending a 1 MiB frame but one byte (the sends block once the daemon stops reading),
        // in nine waves of 100 over about a second: all at once, this 2-core machine spent over a second copying
        // 900 MiB into the test's own loopback socket buffers, which stalled everything, the daemon included.
        var partial = Frame(1024 * 1024, MilterCommand.Macro, 1024 * 1024 + 3);
        var sockets = new List<Socket>();
        var sends = new List<Task<int>>();
        for (var wave = 0; wave < 9; wave++)
        {
            var batch = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Connect(port)));
            sockets.AddRange(batch);
            sends.AddRange(batch.Select(s => s.SendAsync(partial, SocketFlags.None)));
            await Task.Delay(100);
        }
        var peak = baseline;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(8))
        {
            peak = Math.Max(peak, RssMb(daemon.Pid));
            await Task.Delay(200);
        }
        foreach (var s in sockets) s.Dispose();
        await Task.WhenAll(sends.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        stop.Cancel();
        var times = await normal;

        // Memory comes back once the flood is gone (a check runs every 10 s).
        var after = RssMb(daemon.Pid);
        for (var i = 0; i < 60 && after > baseline + 64; i++)
        {
            await Task.Delay(500);
            after = RssMb(daemon.Pid);
        }
        output.WriteLine($"RSS: {baseline} MB before, {peak} MB at the peak, {after} MB after");
        Report("900 partial 1 MiB frames", times);
        Assert.True(peak < RssBoundMb, $"RSS peaked at {peak} MB (bound {RssBoundMb} MB)");
        Assert.True(after <= baseline + 64, $"RSS stayed at {after} MB after the flood (baseline {baseline} MB)");
    }

    [Fact]
    public async Task Trickling_connections_are_closed_at_the_frame_deadline()
    {
        var (daemon, port) = await StartDaemon("\"FrameTimeoutSeconds\": 2, \"IdleTimeoutSeconds\": 300");
        await using var _ = daemon;
        using var stop = new CancellationTokenSource();
        var normal = NormalSessions(port, stop.Token);
        var sw = Stopwatch.StartNew();

        // 200 connections each sending a byte of a 100 KB frame every 500 ms (the idle timer was restarted by each).
        async Task<double?> Trickle()
        {
            var s = await Connect(port);
            var frame = Frame(100_000, MilterCommand.Macro, 32);
            var closing = SecondsToClose(s, sw, TimeSpan.FromSeconds(15));
            for (var i = 0; i < frame.Length && !closing.IsCompleted; i++)
            {
                try { await s.SendAsync(frame.AsMemory(i, 1), SocketFlags.None); } catch (SocketException) { break; }
                await Task.WhenAny(closing, Task.Delay(500));
            }
            return await closing;
        }
        var closed = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Trickle()));
        stop.Cancel();
        Report("200 trickling connections", await normal);
        Assert.All(closed, c => Assert.NotNull(c));
        output.WriteLine($"trickling connections closed after {closed.Min():F1} to {closed.Max():F1} s (frame deadline 2 s)");
        Assert.True(closed.Max() < 2 + 5, $"a trickling connection lived {closed.Max():F1} s");
    }

    [Fact]
    public async Task An_idle_flood_past_max_connections_leaves_room_for_the_mta()
    {
        var (daemon, port) = await StartDaemon("\"MaxConnections\": 300, \"FrameTimeoutSeconds\": 2");
        await using var _ = daemon;
        // 300 connections that negotiate and then say nothing, filling every slot; 200 more that never send OPTNEG.
        var negotiated = await Task.WhenAll(Enumerable.Range(0, 300).Select(async _ =>
        {
            var s = await Connect(port);
            await s.SendAsync(OptNeg(), SocketFlags.None);
            return s;
        }));
        var silent = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Connect(port)));
        await Task.Delay(1500);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        Report("300 idle connections at MaxConnections 300, 200 silent", await NormalSessions(port, stop.Token));
        var lines = daemon.Output.Split('\n').Length;
        output.WriteLine($"{lines} log lines");
        Assert.True(lines < 150, $"{lines} log lines for 500 hostile connections:\n{daemon.Output}");
        Assert.Contains("closed to make room", daemon.Output, StringComparison.Ordinal);
        GC.KeepAlive(negotiated);
        GC.KeepAlive(silent);
    }

    [Fact]
    public async Task A_malformed_frame_flood_logs_a_bounded_number_of_lines()
    {
        var (daemon, port) = await StartDaemon("\"MaxConnections\": 1000");
        await using var _ = daemon;
        using var stop = new CancellationTokenSource();
        var normal = NormalSessions(port, stop.Token);
        var sw = Stopwatch.StartNew();
        var frames = 0;
        for (var round = 0; round < 200 && (round < 20 || sw.Elapsed < TimeSpan.FromSeconds(5)); round++, frames += 100)
        {
            var batch = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Connect(port)));
            await Task.WhenAll(batch.Select(s => s.SendAsync(Frame(0, 0, 5), SocketFlags.None)));
            await Task.WhenAll(batch.Select(s => SecondsToClose(s, sw, TimeSpan.FromSeconds(10))));
            foreach (var s in batch) s.Dispose();
        }
        stop.Cancel();
        Report($"{frames} malformed frames", await normal);
        var badFrameLines = daemon.Output.Split('\n').Count(l => l.Contains("bad frame length", StringComparison.Ordinal));
        output.WriteLine($"{frames} malformed frames in {sw.Elapsed.TotalSeconds:F1} s: {badFrameLines} lines logged, {daemon.Output.Length} bytes of log in all");
        // 10 lines per 10 s per cause (plus the occasional "suppressed" line) over the flood's duration.
        var bound = 12 * ((int)(sw.Elapsed.TotalSeconds / 10) + 1);
        Assert.True(badFrameLines <= bound, $"{badFrameLines} 'bad frame length' lines for {frames} bad frames (bound {bound})");
    }
}

/// <summary>The floods run alone, not beside other test classes: they measure the daemon's memory and latency.</summary>
[CollectionDefinition(nameof(AdversarialDaemonTests), DisableParallelization = true)]
public sealed class AdversarialDaemonCollection;
