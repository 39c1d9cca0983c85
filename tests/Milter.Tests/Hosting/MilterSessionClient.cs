using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Milter.Commands.Bench;
using Milter.Protocol.Wire;

namespace Milter.Tests.Hosting;

/// <summary>
/// A Postfix-like milter client on raw synchronous sockets with every frame prepared in advance, so that what a
/// test counts around it (bytes allocated) is nearly all the server's: per connection OPTNEG and its reply, then
/// the messages (connect macros, CONNECT, HELO, and per message MAIL macros, MAIL, each header field, EOH, BODY,
/// end-of-message macros, BODYEOB) written at once up to each end of message, as Postfix does when every stage but
/// the end of message is negotiated without a reply; the replies read up to the final one; QUIT; EOF.
/// </summary>
internal sealed class MilterSessionClient
{
    private static readonly byte[] OptNeg = Frame((byte)'O', [0, 0, 0, 6, 0, 0, 1, 0xFF, 0, 0x1F, 0xFF, 0xFF]);
    private static readonly byte[] Quit = Frame((byte)'Q', []);
    private readonly byte[] _connect;
    private readonly byte[][] _messages;
    private readonly byte[] _buffer = new byte[64 * 1024];

    /// <param name="clientIp">The SMTP client's IPv4 address in CONNECT.</param>
    /// <param name="messages">CRLF messages; a connection sends them in turn from where the last one stopped.</param>
    public MilterSessionClient(string clientIp, IReadOnlyList<byte[]> messages)
    {
        _connect =
        [
            .. Frame((byte)'D', [(byte)'C', .. "j\0mx.cost.test\0{daemon_name}\0smtpd\0"u8]),
            .. Frame((byte)'C', [.. "client.cost.test\0"u8, (byte)'4', 0x9C, 0x40, .. Encoding.ASCII.GetBytes(clientIp + "\0")]),
            .. Frame((byte)'H', "client.cost.test\0"u8),
        ];
        _messages = messages.Select(m => MessageFrames(BenchMessages.ToBenchMessage(m, "cost.test"))).ToArray();
    }

    /// <summary>Replies read by the last connection: modification frames and final replies, by code.</summary>
    public List<byte> LastReplies { get; } = [];

    private int _next;

    /// <summary>One connection carrying <paramref name="perConnection"/> messages; the final reply of each must be CONTINUE.</summary>
    public void Connection(string socketPath, int perConnection)
    {
        LastReplies.Clear();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.ReceiveTimeout = 30_000;
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        socket.Send(OptNeg);
        var pending = ReadFrame(socket, 0, out var code);
        if (code != (byte)'O') throw new InvalidOperationException($"OPTNEG answered with '{(char)code}'");
        for (var i = 0; i < perConnection; i++)
        {
            if (i == 0) socket.Send(_connect);
            socket.Send(_messages[_next++ % _messages.Length]);
            while (true)
            {
                pending = ReadFrame(socket, pending, out code);
                LastReplies.Add(code);
                if (code is (byte)'c' or (byte)'a' or (byte)'r' or (byte)'t' or (byte)'d' or (byte)'y') break;
            }
            if (code != (byte)'c') throw new InvalidOperationException($"end of message answered with '{(char)code}'");
        }
        socket.Send(Quit);
        while (socket.Receive(_buffer) > 0) { } // nothing more comes: the server closes after QUIT
    }

    /// <summary>Reads one frame into the buffer's start (bytes already read past the last frame are kept); returns the
    /// bytes of the next frames already read.</summary>
    private int ReadFrame(Socket socket, int have, out byte code)
    {
        while (have < 4 || have < 4 + BinaryPrimitives.ReadInt32BigEndian(_buffer))
        {
            var n = socket.Receive(_buffer.AsSpan(have));
            if (n == 0) throw new InvalidOperationException("the server closed the connection before its reply");
            have += n;
        }
        var length = 4 + BinaryPrimitives.ReadInt32BigEndian(_buffer);
        code = _buffer[4];
        _buffer.AsSpan(length, have - length).CopyTo(_buffer);
        return have - length;
    }

    private static byte[] MessageFrames(BenchMessage message)
    {
        var frames = new List<byte>();
        frames.AddRange(Frame((byte)'D', [(byte)'M', .. "i\04ABC123\0{mail_addr}\0"u8, .. Encoding.ASCII.GetBytes(message.Sender + "\0")]));
        frames.AddRange(Frame((byte)'M', Encoding.ASCII.GetBytes("<" + message.Sender + ">\0")));
        foreach (var (name, value) in message.Headers)
            frames.AddRange(Frame((byte)'L', Encoding.ASCII.GetBytes(name + "\0" + value + "\0")));
        frames.AddRange(Frame((byte)'N', []));
        frames.AddRange(Frame((byte)'B', message.Body.Span));
        frames.AddRange(Frame((byte)'D', [(byte)'E', .. "i\04ABC123\0"u8]));
        frames.AddRange(Frame((byte)'E', []));
        return [.. frames];
    }

    /// <summary>One frame, built by the protocol library's own frame writer.</summary>
    private static byte[] Frame(byte command, ReadOnlySpan<byte> payload)
    {
        using var builder = new FrameBuilder();
        builder.Begin(command).WriteBytes(payload).End();
        return builder.WrittenSpan.ToArray();
    }
}
