using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Milter.TestKit.Dns;

/// <summary>
/// A DNS endpoint on 127.0.0.1 (UDP and TCP on one free port) that never answers, to make lookups time out.
/// <list type="bullet">
/// <item><see cref="StartAsync()"/>: every query is read and dropped; TCP connections are accepted and left silent.</item>
/// <item><see cref="StartAsync(IPEndPoint, IEnumerable{string})"/>: a forwarding proxy in front of a real server
/// (e.g. <see cref="KnotDnsServer.EndPoint"/>) that drops only queries for the given names and the names
/// below them, so one resolver sees most names answered and those few time out.</item>
/// </list>
/// (Knot is authoritative only, so a delegation to an unused port would give a referral, not a timeout.)
/// </summary>
public sealed class BlackholeDnsServer : IAsyncDisposable
{
    private static readonly TimeSpan UpstreamTimeout = TimeSpan.FromSeconds(5);
    private readonly Socket _udp;
    private readonly TcpListener _tcp;
    private readonly IPEndPoint? _upstream;
    private readonly string[] _silentNames;
    private readonly List<Socket> _held = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private readonly List<string> _questions = [];
    private int _swallowed;
    private int _forwarded;

    private BlackholeDnsServer(Socket udp, TcpListener tcp, IPEndPoint? upstream, IEnumerable<string> silentNames)
    {
        _udp = udp;
        _tcp = tcp;
        _upstream = upstream;
        _silentNames = silentNames.Select(n => n.Trim().TrimEnd('.').ToLowerInvariant()).ToArray();
        _udpLoop = Task.Run(UdpLoopAsync);
        _tcpLoop = Task.Run(TcpLoopAsync);
    }

    public int Port => ((IPEndPoint)_udp.LocalEndPoint!).Port;
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>Queries (UDP datagrams and TCP messages or connections) that went unanswered.</summary>
    public int QueriesSwallowed => Volatile.Read(ref _swallowed);

    /// <summary>The first question name of every query received, exactly as on the wire (case kept, labels
    /// joined with '.', no final dot; non-ASCII octets as "?"), in arrival order.</summary>
    public IReadOnlyList<string> QuestionsSeen
    {
        get
        {
            lock (_questions)
                return _questions.ToArray();
        }
    }

    /// <summary>Queries passed on to the upstream server (proxy mode).</summary>
    public int QueriesForwarded => Volatile.Read(ref _forwarded);

    /// <summary>Drops every query.</summary>
    public static Task<BlackholeDnsServer> StartAsync() => Task.FromResult(Bind(null, []));

    /// <summary>Forwards to <paramref name="upstream"/> every query except those for <paramref name="silentNames"/>
    /// (and names under them), which are dropped.</summary>
    public static Task<BlackholeDnsServer> StartAsync(IPEndPoint upstream, IEnumerable<string> silentNames) =>
        Task.FromResult(Bind(upstream, silentNames));

    private static BlackholeDnsServer Bind(IPEndPoint? upstream, IEnumerable<string> silentNames)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            int port = FreePort.Next(alsoUdp: true);
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var tcp = new TcpListener(IPAddress.Loopback, port);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                tcp.Start();
                return new BlackholeDnsServer(udp, tcp, upstream, silentNames);
            }
            catch (SocketException)
            {
                udp.Dispose();
                tcp.Stop();
            }
        }
        throw new InvalidOperationException("no free loopback port for the blackhole DNS server after 20 attempts");
    }

    /// <summary>True when the query must go unanswered.</summary>
    private bool Silent(ReadOnlySpan<byte> query)
    {
        if (QuestionName(query, keepCase: true) is { } seen)
        {
            lock (_questions)
                _questions.Add(seen);
        }
        if (_upstream is null)
            return true;
        string? name = QuestionName(query);
        return name is null || _silentNames.Any(s => name == s || name.EndsWith("." + s, StringComparison.Ordinal));
    }

    /// <summary>The first question's name (RFC 1035 4.1.2), lower case without the final dot; null if malformed.</summary>
    internal static string? QuestionName(ReadOnlySpan<byte> message, bool keepCase = false)
    {
        if (message.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(message[4..]) == 0)
            return null;
        var labels = new List<string>();
        int offset = 12;
        while (offset < message.Length)
        {
            int length = message[offset++];
            if (length == 0)
                return keepCase ? string.Join('.', labels) : string.Join('.', labels).ToLowerInvariant();
            if (length > 63 || offset + length > message.Length)
                return null; // compression pointers do not occur in a question from a client
            labels.Add(Encoding.ASCII.GetString(message.Slice(offset, length)));
            offset += length;
        }
        return null;
    }

    private async Task UdpLoopAsync()
    {
        var buffer = new byte[4096];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // e.g. a reset reported on a UDP socket
            }
            byte[] query = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            if (Silent(query))
            {
                Interlocked.Increment(ref _swallowed);
                continue;
            }
            Interlocked.Increment(ref _forwarded);
            _ = ForwardUdpAsync(query, received.RemoteEndPoint);
        }
    }

    private async Task ForwardUdpAsync(byte[] query, EndPoint client)
    {
        try
        {
            using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            upstream.Connect(_upstream!);
            await upstream.SendAsync(query, SocketFlags.None, _stop.Token);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            cts.CancelAfter(UpstreamTimeout);
            var reply = new byte[65535];
            int length = await upstream.ReceiveAsync(reply, SocketFlags.None, cts.Token);
            await _udp.SendToAsync(reply.AsMemory(0, length), SocketFlags.None, client, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Upstream silent or the proxy is stopping: the client times out, as it would anyway.
        }
    }

    private async Task TcpLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _tcp.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (_held)
                _held.Add(client);
            if (_upstream is null)
                Interlocked.Increment(ref _swallowed);
            else
                _ = ProxyTcpAsync(client);
        }
    }

    /// <summary>DNS over TCP (RFC 1035 4.2.2): each message with a two-byte length; forwarded one by one.</summary>
    private async Task ProxyTcpAsync(Socket client)
    {
        try
        {
            using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await upstream.ConnectAsync(_upstream!, _stop.Token);
            while (!_stop.IsCancellationRequested)
            {
                byte[]? query = await ReadTcpMessageAsync(client);
                if (query is null)
                    return;
                if (Silent(query))
                {
                    Interlocked.Increment(ref _swallowed);
                    continue;
                }
                Interlocked.Increment(ref _forwarded);
                await WriteTcpMessageAsync(upstream, query);
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                cts.CancelAfter(UpstreamTimeout);
                byte[]? reply = await ReadTcpMessageAsync(upstream, cts.Token);
                if (reply is null)
                    return;
                await WriteTcpMessageAsync(client, reply);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Stopping, or a peer went away.
        }
    }

    private async Task<byte[]?> ReadTcpMessageAsync(Socket socket, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, ct);
        var prefix = new byte[2];
        if (!await ReadExactlyAsync(socket, prefix, cts.Token))
            return null;
        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        return await ReadExactlyAsync(socket, message, cts.Token) ? message : null;
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct);
            if (n == 0)
                return false;
            read += n;
        }
        return true;
    }

    private async Task WriteTcpMessageAsync(Socket socket, byte[] message)
    {
        var framed = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        await socket.SendAsync(framed, SocketFlags.None, _stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Stop();
        await Task.WhenAll(_udpLoop, _tcpLoop).WaitAsync(TimeSpan.FromSeconds(5));
        lock (_held)
        {
            foreach (var socket in _held)
                socket.Dispose();
            _held.Clear();
        }
        _stop.Dispose();
    }
}
