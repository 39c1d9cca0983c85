using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>MilterClient.BatchNoReplyCommands, seen from a bare socket playing the filter: what reaches the
/// wire, and when.</summary>
public sealed class ClientBatchingTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private const MilterProtocolFlags NoReplyEverywhere = MilterProtocolFlags.NoConnect | MilterProtocolFlags.NoHelo
        | MilterProtocolFlags.NoRcpt | MilterProtocolFlags.NoData | MilterProtocolFlags.NoReplyMail
        | MilterProtocolFlags.NoReplyHeader | MilterProtocolFlags.NoReplyEoh | MilterProtocolFlags.NoReplyBody;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private MilterClient? _client;
    private Socket? _filter;

    public Task InitializeAsync()
    {
        _listener.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        _filter?.Dispose();
        _listener.Stop();
    }

    /// <summary>Connects, and answers the client's OPTNEG with no reply for MAIL, headers, EOH and body.</summary>
    private async Task<(MilterClient Client, Socket Filter)> Connect()
    {
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _client = await MilterClient.ConnectAsync(ListenSpec.Parse($"inet:{port}@127.0.0.1"), Timeout);
        _filter = await _listener.AcceptSocketAsync();
        var negotiate = _client.NegotiateAsync();
        Assert.Equal(MilterCommand.OptNeg, (await ReadFrame(_filter)).Command);
        using var reply = new FrameBuilder();
        Negotiation.WriteReply(reply, new NegotiatedOptions(6, MilterActions.AddHeaders, NoReplyEverywhere, new Dictionary<MacroStage, string>()));
        await _filter.SendAsync(reply.WrittenMemory);
        await negotiate;
        return (_client, _filter);
    }

    private static async Task<(byte Command, int Length)> ReadFrame(Socket socket)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var header = new byte[4];
        await ReadExactly(socket, header, cts.Token);
        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        await ReadExactly(socket, payload, cts.Token);
        return (payload[0], payload.Length);
    }

    private static async Task ReadExactly(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        while (!buffer.IsEmpty)
        {
            var n = await socket.ReceiveAsync(buffer, ct);
            if (n == 0) throw new IOException("the client closed the connection");
            buffer = buffer[n..];
        }
    }

    private static async Task SendContinue(Socket socket)
    {
        using var frame = new FrameBuilder();
        frame.Add((byte)MilterResponseCode.Continue);
        await socket.SendAsync(frame.WrittenMemory);
    }

    [Fact]
    public async Task Held_commands_leave_with_the_end_of_message_in_order()
    {
        var (client, filter) = await Connect();
        client.BatchNoReplyCommands = true;

        Assert.True((await client.MailFromAsync("<a@example.com>")).IsContinue);
        Assert.True((await client.HeaderAsync("From", "a@example.com")).IsContinue);
        Assert.True((await client.EndOfHeadersAsync()).IsContinue);
        Assert.True((await client.BodyAsync("hello\r\n"u8.ToArray())).IsContinue);
        Assert.Equal(0, filter.Available); // nothing written yet: no send can be in flight

        var eom = client.EndOfMessageAsync();
        var commands = new List<char>();
        for (var i = 0; i < 5; i++) commands.Add((char)(await ReadFrame(filter)).Command);
        Assert.Equal("MLNBE", new string([.. commands]));
        await SendContinue(filter);
        Assert.True((await eom).Reply.IsContinue);
    }

    [Fact]
    public async Task Without_batching_a_command_is_written_when_it_is_called()
    {
        var (client, filter) = await Connect();

        Assert.True((await client.MailFromAsync("<a@example.com>")).IsContinue);
        Assert.Equal(MilterCommand.Mail, (await ReadFrame(filter)).Command);
        Assert.True((await client.HeaderAsync("From", "a@example.com")).IsContinue);
        Assert.Equal(MilterCommand.Header, (await ReadFrame(filter)).Command);
    }

    [Fact]
    public async Task Held_bytes_go_out_once_a_body_chunk_fills_the_limit()
    {
        var (client, filter) = await Connect();
        client.BatchNoReplyCommands = true;

        await client.MailFromAsync("<a@example.com>");
        // 100,000 bytes: one full chunk (65,535 bytes, over MaxHeldBytes with MAIL before it) goes out at once,
        // the 34,465 left are held.
        await client.BodyAsync(new byte[100_000]);
        Assert.Equal(MilterCommand.Mail, (await ReadFrame(filter)).Command);
        var chunk = await ReadFrame(filter);
        Assert.Equal((MilterCommand.Body, 1 + WireConstants.ChunkSize), (chunk.Command, chunk.Length));
        Assert.Equal(0, filter.Available);

        var eom = client.EndOfMessageAsync();
        var rest = await ReadFrame(filter);
        Assert.Equal((MilterCommand.Body, 1 + 100_000 - WireConstants.ChunkSize), (rest.Command, rest.Length));
        Assert.Equal(MilterCommand.BodyEob, (await ReadFrame(filter)).Command);
        await SendContinue(filter);
        Assert.True((await eom).Reply.IsContinue);
    }
}
