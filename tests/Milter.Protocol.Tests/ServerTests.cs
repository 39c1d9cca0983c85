using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly ListLoggerFactory _logs = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-proto-").FullName;
    private MilterServer? _server;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<ListenSpec> Start(Func<IMilterHandler> factory, MilterServerOptions? options = null, ListenSpec? spec = null)
    {
        _server = new MilterServer(options ?? new MilterServerOptions(), factory, _logs);
        spec ??= ListenSpec.Parse("inet:0@127.0.0.1");
        await _server.StartAsync([spec], CancellationToken.None);
        return spec.Kind == ListenKind.Unix ? spec : spec with { Port = ((IPEndPoint)_server.EndPoints[0]).Port };
    }

    private static readonly MilterTransaction Tx = new()
    {
        Sender = "<a@example.org>",
        Recipients = ["<b@example.net>", "<c@example.net>"],
        Headers = [new("From", " a@example.org"), new("Subject", " hi")],
        Body = "Hello\r\n"u8.ToArray(),
    };

    private static async Task<MilterClient> OpenClient(ListenSpec spec)
    {
        var client = await MilterClient.ConnectAsync(spec, Timeout);
        await client.NegotiateAsync();
        Assert.True((await client.ConnectAsync("client.example", ConnectFamily.IPv4, 1234, "192.0.2.1")).IsContinue);
        Assert.True((await client.HeloAsync("client.example")).IsContinue);
        return client;
    }

    private sealed class StampHandler : MilterHandlerBase
    {
        public override MilterCapabilities Capabilities { get; } = new() { NoReplyStages = MilterStages.Headers | MilterStages.Body };
        public TimeSpan Delay { get; init; }
        public override async ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken ct)
        {
            if (Delay > TimeSpan.Zero) await Task.Delay(Delay, ct);
            modifier.InsertHeader(0, "X-Stamp", $" conn={context.ConnectionId} msg={context.MessageNumber}");
            return MilterResponse.Accept;
        }
    }

    [Fact]
    public async Task Session_over_tcp_with_modifications()
    {
        var spec = await Start(() => new StampHandler());
        await using var client = await OpenClient(spec);
        Assert.True(client.Negotiated!.Has(MilterProtocolFlags.NoReplyHeader | MilterProtocolFlags.HeaderLeadingSpace));
        var r1 = await client.SendMessageAsync(Tx);
        var r2 = await client.SendMessageAsync(Tx);
        Assert.Equal("eom", r1.Stage);
        Assert.Equal(MilterResponseCode.Accept, r1.Reply.Code);
        var mod = Assert.Single(r2.Modifications);
        Assert.Equal((MilterResponseCode.InsertHeader, 0, "X-Stamp"), (mod.Kind, mod.Index, mod.Name));
        Assert.EndsWith("msg=2", mod.Value);
        await client.QuitAsync();
    }

    [Fact]
    public async Task Session_over_a_unix_socket_with_mode_and_removal()
    {
        var path = Path.Combine(_dir, "milter.sock");
        var spec = await Start(() => new StampHandler(), new MilterServerOptions { UnixSocketMode = (UnixFileMode)0x1B0 }, ListenSpec.Parse("unix:" + path));
        Assert.Equal((UnixFileMode)0x1B0, File.GetUnixFileMode(path));
        await using (var client = await OpenClient(spec))
        {
            var r = await client.SendMessageAsync(Tx);
            Assert.Equal(MilterResponseCode.Accept, r.Reply.Code);
            await client.QuitAsync();
        }
        await _server!.StopAsync(CancellationToken.None);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Stale_unix_socket_is_replaced_but_a_regular_file_is_not()
    {
        var path = Path.Combine(_dir, "stale.sock");
        // .NET removes the file when its socket closes, so a crashed daemon's leftover is made with python.
        using (var p = System.Diagnostics.Process.Start("/usr/bin/python3", ["-c", $"import socket; socket.socket(socket.AF_UNIX).bind('{path}')"]))
            await p.WaitForExitAsync();
        Assert.True(File.Exists(path));
        var spec = await Start(() => new StampHandler(), spec: ListenSpec.Parse("unix:" + path));
        await using (var client = await OpenClient(spec)) await client.QuitAsync();

        var file = Path.Combine(_dir, "regular");
        await File.WriteAllTextAsync(file, "keep me");
        await using var other = new MilterServer(new MilterServerOptions(), () => new StampHandler(), _logs);
        var ex = await Assert.ThrowsAsync<IOException>(() => other.StartAsync([ListenSpec.Parse("unix:" + file)], CancellationToken.None));
        Assert.Contains("unix:" + file, ex.Message);
        Assert.Equal("keep me", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task Bind_failure_names_the_spec()
    {
        var spec = await Start(() => new StampHandler());
        await using var other = new MilterServer(new MilterServerOptions(), () => new StampHandler(), _logs);
        var ex = await Assert.ThrowsAsync<IOException>(() => other.StartAsync([spec], CancellationToken.None));
        Assert.Contains(spec.ToString(), ex.Message);
    }

    [Fact]
    public async Task Five_hundred_concurrent_sessions()
    {
        var spec = await Start(() => new StampHandler());
        var clients = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ => OpenClient(spec)));
        try
        {
            var results = await Task.WhenAll(clients.Select(c => c.SendMessageAsync(Tx)));
            Assert.All(results, r => Assert.Equal(MilterResponseCode.Accept, r.Reply.Code));
            Assert.Equal(500, results.Select(r => r.Modifications[0].Value).Distinct().Count());
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Connections_beyond_the_maximum_are_refused_and_others_unharmed()
    {
        var spec = await Start(() => new StampHandler(), new MilterServerOptions { MaxConnections = 2 });
        await using var a = await OpenClient(spec);
        await using var b = await OpenClient(spec);
        await using var c = await MilterClient.ConnectAsync(spec, Timeout);
        await Assert.ThrowsAnyAsync<IOException>(() => c.NegotiateAsync());
        Assert.True(_logs.Has(LogLevel.Warning, "refused"));
        Assert.Equal(MilterResponseCode.Accept, (await a.SendMessageAsync(Tx)).Reply.Code);
        Assert.Equal(2, _server!.ActiveConnections);
    }

    [Fact]
    public async Task Oversized_frame_closes_only_that_connection()
    {
        var spec = await Start(() => new StampHandler(), new MilterServerOptions { MaxFrameSize = 4096 });
        await using var good = await OpenClient(spec);
        await using var bad = await OpenClient(spec);
        await Assert.ThrowsAnyAsync<IOException>(() => bad.MailFromAsync("<" + new string('x', 10_000) + "@example>"));
        Assert.True(_logs.Has(LogLevel.Warning, "bad frame length"));
        Assert.Equal(MilterResponseCode.Accept, (await good.SendMessageAsync(Tx)).Reply.Code);
    }

    [Fact]
    public async Task Idle_connection_is_closed()
    {
        var spec = await Start(() => new StampHandler(), new MilterServerOptions { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await using var client = await OpenClient(spec);
        await WaitUntil(() => _server!.ActiveConnections == 0);
        Assert.True(_logs.Has(LogLevel.Warning, "no command from the MTA"));
        await Assert.ThrowsAnyAsync<IOException>(() => client.MailFromAsync("<a@b>"));
    }

    [Fact]
    public async Task Stop_lets_a_message_in_flight_finish_and_closes_idle_sessions()
    {
        var spec = await Start(() => new StampHandler { Delay = TimeSpan.FromMilliseconds(500) });
        await using var busy = await OpenClient(spec);
        await using var idle = await OpenClient(spec);
        Assert.True((await busy.MailFromAsync("<a@b>")).IsContinue);
        Assert.True((await busy.RcptToAsync("<c@d>")).IsContinue);
        var eom = busy.EndOfMessageAsync();
        await Task.Delay(100);
        var stop = _server!.StopAsync(CancellationToken.None);
        var result = await eom;
        Assert.Equal(MilterResponseCode.Accept, result.Reply.Code);
        await stop.WaitAsync(Timeout);
        Assert.Equal(0, _server.ActiveConnections);
        await Assert.ThrowsAnyAsync<IOException>(() => idle.MailFromAsync("<a@b>"));
    }

    [Fact]
    public async Task Stop_closes_sessions_still_busy_after_the_drain_timeout()
    {
        var spec = await Start(() => new StampHandler { Delay = TimeSpan.FromSeconds(30) },
            new MilterServerOptions { DrainTimeout = TimeSpan.FromMilliseconds(200) });
        await using var busy = await OpenClient(spec);
        Assert.True((await busy.MailFromAsync("<a@b>")).IsContinue);
        var eom = busy.EndOfMessageAsync();
        await Task.Delay(100);
        await _server!.StopAsync(CancellationToken.None).WaitAsync(Timeout);
        await Assert.ThrowsAnyAsync<IOException>(() => eom);
        Assert.True(_logs.Has(LogLevel.Warning, "drain timeout"));
    }

    [Fact]
    public async Task Declined_stages_are_not_sent_by_the_client()
    {
        var spec = await Start(() => new HeloOnly());
        await using var client = await MilterClient.ConnectAsync(spec, Timeout);
        var n = await client.NegotiateAsync();
        Assert.True(n.Has(MilterProtocolFlags.NoConnect | MilterProtocolFlags.NoMail | MilterProtocolFlags.NoBody));
        Assert.True((await client.ConnectAsync("x", ConnectFamily.Unknown, 0, "")).IsContinue);
        Assert.Equal(MilterResponseCode.Reject, (await client.HeloAsync("bad")).Code);
        var reply = await client.HeloAsync("worse");
        Assert.Equal((MilterResponseCode.ReplyCode, "550 5.7.1 go away"), (reply.Code, reply.Text));
    }

    private sealed class HeloOnly : MilterHandlerBase
    {
        private int _n;
        public override MilterCapabilities Capabilities { get; } = new() { Stages = MilterStages.Helo };
        public override ValueTask<MilterResponse> OnHeloAsync(MilterContext context, string helo, CancellationToken ct)
            => new(++_n == 1 ? MilterResponse.Reject : MilterResponse.Reply("550", "5.7.1", "go away"));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition());
    }
}
