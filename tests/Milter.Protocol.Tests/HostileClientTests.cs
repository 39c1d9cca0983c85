using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>Clients that trickle, hold partial frames, idle or flood: each is closed or bounded without
/// harming a normal MTA session (in-process server on loopback).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HostileClientTests : IAsyncLifetime
{
    private readonly List<Socket> _sockets = [];
    private readonly ListLoggerFactory _logs = new();
    private MilterServer? _server;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var s in _sockets) s.Dispose();
        if (_server is not null) await _server.DisposeAsync();
    }

    private async Task<ListenSpec> Start(MilterServerOptions options)
    {
        _server = new MilterServer(options, () => new AcceptHandler(), _logs);
        var spec = ListenSpec.Parse("inet:0@127.0.0.1");
        await _server.StartAsync([spec], CancellationToken.None);
        return spec with { Port = ((IPEndPoint)_server.EndPoints[0]).Port };
    }

    private sealed class AcceptHandler : MilterHandlerBase
    {
        public override ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken ct)
            => new(MilterResponse.Accept);
    }

    private async Task<Socket> Raw(ListenSpec spec)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(s);
        await s.ConnectAsync(IPAddress.Loopback, spec.Port);
        return s;
    }

    private static byte[] Header(uint length, byte command)
    {
        var b = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(b, length);
        b[4] = command;
        return b;
    }

    private static byte[] OptNeg()
    {
        var b = new byte[17];
        Header(13, MilterCommand.OptNeg).CopyTo(b, 0);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(5), 6);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(9), 0x1FF);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(13), 0);
        return b;
    }

    /// <summary>True once the server has closed the socket (EOF or reset), false if still open after the bound.</summary>
    private static async Task<bool> ClosedWithin(Socket s, TimeSpan bound)
    {
        using var cts = new CancellationTokenSource(bound);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                if (await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0) return true;
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static async Task<MilterClient> Negotiated(ListenSpec spec)
    {
        var client = await MilterClient.ConnectAsync(spec, Timeout);
        await client.NegotiateAsync();
        return client;
    }

    private static readonly MilterTransaction Tx = new()
    {
        Sender = "<a@example.org>",
        Recipients = ["<b@example.net>"],
        Headers = [new("From", " a@example.org")],
        Body = "Hello\r\n"u8.ToArray(),
    };

    private static async Task<TimeSpan> TimedSession(ListenSpec spec)
    {
        var sw = Stopwatch.StartNew();
        await using var client = await Negotiated(spec);
        Assert.True((await client.ConnectAsync("client.example", ConnectFamily.IPv4, 1234, "192.0.2.1")).IsContinue);
        Assert.Equal(MilterResponseCode.Accept, (await client.SendMessageAsync(Tx)).Reply.Code);
        await client.QuitAsync();
        return sw.Elapsed;
    }

    [Fact]
    public async Task Trickling_a_frame_is_closed_at_the_frame_deadline_though_each_byte_comes_within_the_idle_timeout()
    {
        var spec = await Start(new() { IdleTimeout = TimeSpan.FromSeconds(2), FrameTimeout = TimeSpan.FromSeconds(1) });
        // From before the connect: the first frame's deadline runs from the connection's start (the session starts
        // at accept), and on a loaded machine the connect's continuation can run a quarter of a second after that.
        var sw = Stopwatch.StartNew();
        var s = await Raw(spec);
        // The length and command at once, so the session knows a frame is under way (were the length itself trickled,
        // a loaded machine could reach the deadline before its fourth byte: then it is the OPTNEG deadline that is logged).
        var bytes = Header(100_000, MilterCommand.Macro);
        await s.SendAsync(bytes, SocketFlags.None);
        var closed = false;
        // Then one byte of the frame every 250 ms (well inside the idle timeout), for up to 12 s: six idle timeouts.
        for (var i = 0; i < 48 && !closed; i++)
        {
            try
            {
                await s.SendAsync(new[] { (byte)'x' }, SocketFlags.None);
            }
            catch (SocketException)
            {
                closed = true;
                break;
            }
            closed = await ClosedWithin(s, TimeSpan.FromMilliseconds(250));
        }
        Assert.True(closed, "a trickling connection stayed open 12 s, six idle timeouts");
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(6));
        Assert.True(_logs.Has(LogLevel.Warning, "not complete within"), string.Join(" | ", _logs.Lines.Select(l => l.Message)));
    }

    [Fact]
    public async Task A_connection_that_never_sends_optneg_is_closed_at_the_frame_deadline()
    {
        var spec = await Start(new() { IdleTimeout = TimeSpan.FromSeconds(60), FrameTimeout = TimeSpan.FromSeconds(1) });
        var s = await Raw(spec);
        Assert.True(await ClosedWithin(s, TimeSpan.FromSeconds(8)), "a silent connection was kept past the frame deadline");
        Assert.True(_logs.Has(LogLevel.Warning, "no OPTNEG within"));
    }

    [Fact]
    public async Task Between_frames_the_idle_timeout_still_applies()
    {
        // The frame deadline also bounds the wait for OPTNEG after accept, so it must leave room for a loaded machine
        // (300 ms closed the connection before OPTNEG once at load 15); the pause between frames is 3 times it.
        var spec = await Start(new() { IdleTimeout = TimeSpan.FromSeconds(60), FrameTimeout = TimeSpan.FromSeconds(1) });
        await using var client = await Negotiated(spec);
        await Task.Delay(3000);
        Assert.True((await client.ConnectAsync("client.example", ConnectFamily.IPv4, 1234, "192.0.2.1")).IsContinue);
        Assert.Equal(MilterResponseCode.Accept, (await client.SendMessageAsync(Tx)).Reply.Code);
    }

    [Fact]
    public async Task Large_partial_frames_share_one_buffer_budget_and_small_frames_still_pass()
    {
        var spec = await Start(OneFrameBudget(TimeSpan.FromSeconds(6)));
        // A holds the whole budget with a frame it never finishes.
        var a = await Raw(spec);
        await a.SendAsync(OptNeg(), SocketFlags.None);
        await a.SendAsync(Header(1024 * 1024, MilterCommand.Macro).Concat(new byte[200_000]).ToArray(), SocketFlags.None);
        await WaitUntil(() => _server!.BufferedBytes == 1024 * 1024);

        // B's large frame (started a second later) waits while A holds the budget; a normal session (small
        // frames) is not held up.
        await Task.Delay(1000);
        var b = await Raw(spec);
        await b.SendAsync(OptNeg(), SocketFlags.None);
        await b.SendAsync(Header(512 * 1024, MilterCommand.Macro).Concat(new byte[100_000]).ToArray(), SocketFlags.None);
        Assert.True(await TimedSession(spec) < TimeSpan.FromSeconds(5));
        Assert.Equal(1024 * 1024, _server!.BufferedBytes);

        // A is closed at its frame deadline and its bytes come back: B gets its share (so B too is closed for
        // its unfinished frame, not for want of buffer space), and in the end nothing is reserved.
        Assert.True(await ClosedWithin(a, TimeSpan.FromSeconds(15)));
        Assert.True(await ClosedWithin(b, TimeSpan.FromSeconds(15)));
        await WaitUntil(() => _server.BufferedBytes == 0);
        Assert.Equal(2, _logs.Lines.Count(l => l.Message.Contains("not complete within", StringComparison.Ordinal)));
        Assert.False(_logs.Has(LogLevel.Warning, "waiting for buffer space"));
    }

    /// <summary>A budget of exactly one maximal frame (1 MiB).</summary>
    private static MilterServerOptions OneFrameBudget(TimeSpan frameTimeout)
        => new() { MaxFrameSize = 1024 * 1024, MaxBufferedBytes = 1024 * 1024, FrameTimeout = frameTimeout };

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition());
    }

    [Fact]
    public async Task A_large_frame_that_arrives_in_time_is_read_once_the_budget_frees()
    {
        var spec = await Start(OneFrameBudget(TimeSpan.FromSeconds(10)));
        await using var first = await Negotiated(spec);
        await using var second = await Negotiated(spec);
        var a = first.ConnectAsync("a." + new string('x', 700_000), ConnectFamily.Unknown, 0, "");
        var b = second.ConnectAsync("b." + new string('y', 700_000), ConnectFamily.Unknown, 0, "");
        Assert.True((await a.WaitAsync(Timeout)).IsContinue);
        Assert.True((await b.WaitAsync(Timeout)).IsContinue);
        await WaitUntil(() => _server!.BufferedBytes == 0);
    }

    [Fact]
    public async Task A_full_server_evicts_the_connection_that_waited_longest_for_its_mta()
    {
        var spec = await Start(new() { MaxConnections = 2, EvictAfter = TimeSpan.FromMilliseconds(300) });
        await using var oldest = await Negotiated(spec);
        await Task.Delay(600);
        await using var newer = await Negotiated(spec);
        await Task.Delay(400);
        Assert.True(await TimedSession(spec) < TimeSpan.FromSeconds(5));
        Assert.Equal(1, _server!.EvictedConnections);
        Assert.Equal(0, _server.RefusedConnections);
        await Assert.ThrowsAnyAsync<IOException>(() => oldest.ConnectAsync("x", ConnectFamily.Unknown, 0, ""));
        Assert.True((await newer.ConnectAsync("x", ConnectFamily.Unknown, 0, "")).IsContinue);
        Assert.True(_logs.Has(LogLevel.Warning, "closed to make room"));
    }

    [Fact]
    public async Task Refused_connections_are_counted_and_logged_at_a_bounded_rate()
    {
        var spec = await Start(new()
        {
            MaxConnections = 1,
            EvictAfter = TimeSpan.FromHours(1),
            LogLinesPerInterval = 3,
            LogInterval = TimeSpan.FromHours(1),
        });
        await using var kept = await Negotiated(spec);
        for (var i = 0; i < 40; i++)
        {
            var s = await Raw(spec);
            Assert.True(await ClosedWithin(s, Timeout));
        }
        Assert.Equal(40, _server!.RefusedConnections);
        Assert.Equal(3, _logs.Lines.Count(l => l.Message.Contains("refused", StringComparison.Ordinal)));
        await _server.DisposeAsync();
        Assert.Contains(_logs.Lines, l => l.Message.Contains("connection refused: 37 similar line(s) suppressed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_flood_of_malformed_frames_logs_a_bounded_number_of_lines()
    {
        var spec = await Start(new() { LogLinesPerInterval = 5, LogInterval = TimeSpan.FromHours(1) });
        for (var round = 0; round < 4; round++)
        {
            var batch = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Raw(spec)));
            await Task.WhenAll(batch.Select(s => s.SendAsync(Header(0, 0), SocketFlags.None)));
            foreach (var s in batch) Assert.True(await ClosedWithin(s, Timeout));
        }
        Assert.True(await TimedSession(spec) < TimeSpan.FromSeconds(5));
        Assert.Equal(5, _logs.Lines.Count(l => l.Message.Contains("bad frame length", StringComparison.Ordinal)));
        await _server!.DisposeAsync();
        Assert.Contains(_logs.Lines, l => l.Message.Contains("bad frame length: 195 similar line(s) suppressed", StringComparison.Ordinal));
    }
}
