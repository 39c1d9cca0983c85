using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public sealed class ClientServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly ListLoggerFactory _logs = new();
    private MilterServer? _server;

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() { if (_server is not null) await _server.DisposeAsync(); }

    private async Task<ListenSpec> Start(Func<IMilterHandler> factory, string spec = "inet:0@127.0.0.1", MilterServerOptions? options = null)
    {
        _server = new MilterServer(options ?? new MilterServerOptions(), factory, _logs);
        var parsed = ListenSpec.Parse(spec);
        await _server.StartAsync([parsed], CancellationToken.None);
        return parsed with { Port = ((IPEndPoint)_server.EndPoints[0]).Port };
    }

    private sealed class EditingHandler : MilterHandlerBase
    {
        public override MilterCapabilities Capabilities { get; } = new()
        {
            Actions = Negotiation.AllActions,
            Macros = new Dictionary<MacroStage, IReadOnlyList<string>> { [MacroStage.MailFrom] = ["auth_type"] },
        };
        public string? AuthType;
        public byte[]? HeaderBytes;

        public override ValueTask<MilterResponse> OnMailFromAsync(MilterContext context, string sender, IReadOnlyList<string> args, CancellationToken ct)
        {
            AuthType = context.GetMacro("auth_type");
            return MilterResponse.ContinueTask;
        }

        public override ValueTask<MilterResponse> OnHeaderAsync(MilterContext context, string name, byte[] rawValue, CancellationToken ct)
        {
            HeaderBytes = rawValue;
            return MilterResponse.ContinueTask;
        }

        public override ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier m, CancellationToken ct)
        {
            m.ChangeHeader("Subject", 1, " new");
            m.DeleteHeader("X-Old", 2);
            m.ChangeSender("<bounce@example.org>", "SIZE=5");
            m.AddRecipient("<add@example.org>");
            m.AddRecipient("<addpar@example.org>", "NOTIFY=NEVER");
            m.DeleteRecipient("<del@example.org>");
            m.Quarantine("held for review");
            m.ReplaceBody("new body\r\n"u8.ToArray());
            return new(MilterResponse.Discard);
        }
    }

    [Fact]
    public async Task Every_modification_kind_round_trips()
    {
        var handler = new EditingHandler();
        var spec = await Start(() => handler);
        await using var client = await MilterClient.ConnectAsync(spec, Timeout);
        var n = await client.NegotiateAsync();
        Assert.Equal("{auth_type}", n.Macros[MacroStage.MailFrom]);
        await client.ConnectAsync("c", ConnectFamily.IPv6, 25, "IPv6:::1");
        await client.HeloAsync("c");
        await client.MailFromAsync("<a@b>", null, new Dictionary<string, string> { ["auth_type"] = "PLAIN" });
        await client.RcptToAsync("<del@example.org>");
        await client.HeaderAsync("Subject", " caf\u00e9\r\n\tfolded");
        var eom = await client.EndOfMessageAsync();
        Assert.Equal("PLAIN", handler.AuthType);
        Assert.Equal(" caf\u00e9\r\n\tfolded"u8.ToArray(), handler.HeaderBytes);
        Assert.Equal(MilterResponseCode.Discard, eom.Reply.Code);
        Assert.Equal(
        [
            new MilterModification(MilterResponseCode.ChangeHeader, 1, "Subject", " new", null),
            new MilterModification(MilterResponseCode.ChangeHeader, 2, "X-Old", "", null),
            new MilterModification(MilterResponseCode.ChangeFrom, 0, "<bounce@example.org>", "SIZE=5", null),
            new MilterModification(MilterResponseCode.AddRecipient, 0, "<add@example.org>", null, null),
            new MilterModification(MilterResponseCode.AddRecipientWithArgs, 0, "<addpar@example.org>", "NOTIFY=NEVER", null),
            new MilterModification(MilterResponseCode.DeleteRecipient, 0, "<del@example.org>", null, null),
            new MilterModification(MilterResponseCode.Quarantine, 0, null, "held for review", null),
        ], eom.Modifications.Take(7));
        Assert.Equal("new body\r\n"u8.ToArray(), eom.Modifications[7].Bytes);
    }

    [Fact]
    public async Task Session_over_ipv6_loopback()
    {
        var spec = await Start(() => new EditingHandler(), "inet6:0@::1");
        Assert.Equal(AddressFamily.InterNetworkV6, _server!.EndPoints[0].AddressFamily);
        await using var client = await MilterClient.ConnectAsync(spec, Timeout);
        await client.NegotiateAsync();
        Assert.True((await client.ConnectAsync("c", ConnectFamily.IPv6, 25, "::1")).IsContinue);
        await client.QuitAsync();
    }

    [Fact]
    public async Task Garbage_on_one_connection_does_not_harm_another()
    {
        var spec = await Start(() => new EditingHandler());
        await using var good = await MilterClient.ConnectAsync(spec, Timeout);
        await good.NegotiateAsync();
        using (var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await raw.ConnectAsync(IPAddress.Loopback, spec.Port);
            await raw.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var buf = new byte[16];
            using var cts = new CancellationTokenSource(Timeout);
            Assert.Equal(0, await raw.ReceiveAsync(buf, SocketFlags.None, cts.Token)); // closed by the server
        }
        Assert.True(_logs.Has(LogLevel.Warning, "bad frame length"));
        Assert.True((await good.ConnectAsync("c", ConnectFamily.Unknown, 0, "")).IsContinue);
    }

    [Fact]
    public async Task Client_skips_progress_and_stops_body_on_skip()
    {
        // Progress every 10 ms while the 300 ms chunk handler runs: the client must skip them.
        var spec = await Start(() => new SlowSkip(), options: new MilterServerOptions { ProgressInterval = TimeSpan.FromMilliseconds(10) });
        await using var client = await MilterClient.ConnectAsync(spec, Timeout);
        await client.NegotiateAsync();
        await client.ConnectAsync("c", ConnectFamily.Unknown, 0, "");
        await client.MailFromAsync("<a@b>");
        var reply = await client.BodyAsync(new byte[200_000]);
        Assert.Equal(MilterResponseCode.Skip, reply.Code);
        Assert.Equal(1, SlowSkip.Chunks);
    }

    private sealed class SlowSkip : MilterHandlerBase
    {
        public static int Chunks;
        public override async ValueTask<MilterResponse> OnBodyChunkAsync(MilterContext context, ReadOnlyMemory<byte> chunk, CancellationToken ct)
        {
            Interlocked.Increment(ref Chunks);
            Assert.Equal(65535, chunk.Length);
            await Task.Delay(300, ct);
            return MilterResponse.Skip;
        }
    }
}
