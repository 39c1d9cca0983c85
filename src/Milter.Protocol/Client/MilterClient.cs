using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Client;

/// <summary>
/// The MTA side of the milter protocol, for tests and benchmarks. Stages the filter declined (NO*) are not
/// sent and return CONTINUE; under NR_* no reply is awaited; PROGRESS is skipped while waiting. Every call is
/// bounded by the timeout given at connect. Not thread-safe: one command at a time.
/// </summary>
public sealed partial class MilterClient : IAsyncDisposable
{
    private const int MaxReplyFrame = 1024 * 1024;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly TimeSpan _timeout;
    private readonly FrameBuilder _out = new();
    private bool _held; // frames in _out not yet written (BatchNoReplyCommands)

    private MilterClient(Socket socket, TimeSpan timeout)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _timeout = timeout;
    }

    public NegotiatedOptions? Negotiated { get; private set; }

    /// <summary>Like Postfix (whose milter client writes into a stream buffer that goes out when it waits for
    /// a reply): a command the filter asked not to answer (NR_*) is held and leaves with the next command that
    /// awaits a reply (or ends the session), so a whole message can go in one write. Held bytes are sent once
    /// they reach <see cref="MaxHeldBytes"/>; held frames still unsent at dispose are dropped. Off by default:
    /// each command is written when it is called.</summary>
    public bool BatchNoReplyCommands { get; set; }

    /// <summary>With <see cref="BatchNoReplyCommands"/>, the held bytes that force a write (Postfix's chunk size).</summary>
    public const int MaxHeldBytes = 64 * 1024;

    public static async Task<MilterClient> ConnectAsync(ListenSpec spec, TimeSpan timeout, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        EndPoint endPoint;
        Socket socket;
        if (spec.Kind == ListenKind.Unix)
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            endPoint = new UnixDomainSocketEndPoint(spec.Path!);
        }
        else
        {
            var host = spec.Host ?? (spec.Kind == ListenKind.Inet ? "127.0.0.1" : "::1");
            var ip = IPAddress.TryParse(host, out var parsed) ? parsed
                : (await Dns.GetHostAddressesAsync(host, cts.Token)).First(a => a.AddressFamily == (spec.Kind == ListenKind.Inet ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6));
            socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            endPoint = new IPEndPoint(ip, spec.Port);
        }
        try
        {
            await socket.ConnectAsync(endPoint, cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new MilterClient(socket, timeout);
    }

    /// <summary>SMFIC_OPTNEG. The defaults offer everything Postfix 3.x offers with milter_protocol = 6.</summary>
    public async Task<NegotiatedOptions> NegotiateAsync(uint version = 6, MilterActions actions = Negotiation.AllActions,
        MilterProtocolFlags offered = Negotiation.AllProtocolFlags, CancellationToken ct = default)
    {
        using var cts = Deadline(ct);
        _out.Reset();
        _held = false;
        _out.Begin(MilterCommand.OptNeg).WriteUInt32(version).WriteUInt32((uint)actions).WriteUInt32((uint)offered).End();
        await SendAsync(cts.Token);
        var (code, data) = await ReadFrameAsync(cts.Token);
        if (code != MilterCommand.OptNeg) throw new MilterProtocolException($"expected an OPTNEG reply, got '{(char)code}'");
        var reply = Negotiation.Parse(data) ?? throw new MilterProtocolException("truncated OPTNEG reply");
        if (reply.Version > version || (reply.Actions & ~actions) != 0 || (reply.ProtocolFlags & ~offered) != 0)
            throw new MilterProtocolException($"OPTNEG reply is not a subset of the offer: {reply}");
        Negotiated = reply;
        return reply;
    }

    public Task<MilterReply> ConnectAsync(string hostName, ConnectFamily family, int port, string address,
        IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Connect, macros, b =>
        {
            b.WriteCString(hostName);
            switch (family)
            {
                case ConnectFamily.Unknown: b.WriteByte(MilterAddressFamily.Unknown); return;
                case ConnectFamily.Unix: b.WriteByte(MilterAddressFamily.Unix); break;
                case ConnectFamily.IPv4: b.WriteByte(MilterAddressFamily.Inet); break;
                default: b.WriteByte(MilterAddressFamily.Inet6); break;
            }
            b.WriteUInt16((ushort)port).WriteCString(address);
        }, ct);

    public Task<MilterReply> HeloAsync(string helo, IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Helo, macros, b => b.WriteCString(helo), ct);

    public Task<MilterReply> MailFromAsync(string sender, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Mail, macros, b => WriteArgv(b, sender, args), ct);

    public Task<MilterReply> RcptToAsync(string rcpt, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Rcpt, macros, b => WriteArgv(b, rcpt, args), ct);

    public Task<MilterReply> DataAsync(IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Data, macros, null, ct);

    /// <summary>SMFIC_HEADER. The value is sent as given (UTF-8); add the leading space yourself under HDR_LEADSPC.</summary>
    public Task<MilterReply> HeaderAsync(string name, string value, IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => HeaderAsync(name, Encoding.UTF8.GetBytes(value), macros, ct);

    /// <summary>SMFIC_HEADER with the value's exact bytes.</summary>
    public Task<MilterReply> HeaderAsync(string name, byte[] value, IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Header, macros, b => b.WriteCString(name).WriteCString(value), ct);

    public Task<MilterReply> EndOfHeadersAsync(IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
        => CommandAsync(MilterCommand.EndOfHeaders, macros, null, ct);

    public Task<MilterReply> UnknownAsync(string command, CancellationToken ct = default)
        => CommandAsync(MilterCommand.Unknown, null, b => b.WriteCString(command), ct);

    /// <summary>SMFIC_BODY in chunks of at most 65535 bytes; stops at the first reply other than CONTINUE (SKIP included).</summary>
    public async Task<MilterReply> BodyAsync(ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
    {
        var reply = MilterReply.Continue;
        while (!body.IsEmpty)
        {
            var n = Math.Min(body.Length, WireConstants.ChunkSize);
            var chunk = body[..n];
            body = body[n..];
            reply = await CommandAsync(MilterCommand.Body, macros, b => b.WriteBytes(chunk.Span), ct);
            if (!reply.IsContinue) break;
        }
        return reply;
    }

    /// <summary>SMFIC_BODYEOB: collects every modification request and the final reply.</summary>
    public async Task<EndOfMessageResult> EndOfMessageAsync(IReadOnlyDictionary<string, string>? macros = null, CancellationToken ct = default)
    {
        using var cts = Deadline(ct);
        Prepare(MilterCommand.BodyEob, macros, null);
        await SendAsync(cts.Token);
        var modifications = new List<MilterModification>();
        while (true)
        {
            var (code, data) = await ReadFrameAsync(cts.Token);
            if (code == (byte)MilterResponseCode.Progress) continue;
            if (MilterResponseCodes.IsModification((MilterResponseCode)code))
            {
                modifications.Add(ParseModification((MilterResponseCode)code, data));
                continue;
            }
            return new EndOfMessageResult(ToReply(code, data), modifications);
        }
    }

    public async Task AbortAsync(CancellationToken ct = default)
    {
        using var cts = Deadline(ct);
        Prepare(MilterCommand.Abort, null, null);
        await SendAsync(cts.Token);
    }

    public async Task QuitAsync(CancellationToken ct = default)
    {
        using var cts = Deadline(ct);
        Prepare(MilterCommand.Quit, null, null);
        await SendAsync(cts.Token);
    }

    /// <summary>SMFIC_QUIT_NC: ends the SMTP session but keeps the connection for a new one (CONNECT follows).</summary>
    public async Task QuitNewConnectionAsync(CancellationToken ct = default)
    {
        using var cts = Deadline(ct);
        Prepare(MilterCommand.QuitNewConnection, null, null);
        await SendAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync();
        await _stream.DisposeAsync();
        _socket.Dispose();
        _out.Dispose();
    }
}
