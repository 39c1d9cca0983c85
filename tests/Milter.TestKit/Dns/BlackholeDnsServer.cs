using System.Net;
using System.Net.Sockets;

namespace Milter.TestKit.Dns;

/// <summary>
/// A DNS "server" that never answers: it binds a UDP port and a TCP port (the same number) on 127.0.0.1,
/// reads every query and drops it; TCP connections are accepted and left silent. A resolver pointed at
/// <see cref="EndPoint"/> times out on every name, which is how tests reach temperror paths.
/// (Knot is authoritative only, so a delegation to an unused port would give a referral, not a timeout;
/// to time out a single name while others resolve, give the code under test a resolver per name set,
/// or point the test's resolver here.)
/// </summary>
public sealed class BlackholeDnsServer : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly TcpListener _tcp;
    private readonly List<Socket> _held = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private int _queries;

    private BlackholeDnsServer(Socket udp, TcpListener tcp)
    {
        _udp = udp;
        _tcp = tcp;
        _udpLoop = Task.Run(SwallowUdpAsync);
        _tcpLoop = Task.Run(HoldTcpAsync);
    }

    public int Port => ((IPEndPoint)_udp.LocalEndPoint!).Port;
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>How many UDP datagrams and TCP connections arrived (and went unanswered).</summary>
    public int QueriesSwallowed => Volatile.Read(ref _queries);

    public static Task<BlackholeDnsServer> StartAsync()
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
                return Task.FromResult(new BlackholeDnsServer(udp, tcp));
            }
            catch (SocketException)
            {
                udp.Dispose();
                tcp.Stop();
            }
        }
        throw new InvalidOperationException("no free loopback port for the blackhole DNS server after 20 attempts");
    }

    private async Task SwallowUdpAsync()
    {
        var buffer = new byte[4096];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _udp.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                Interlocked.Increment(ref _queries);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // e.g. connection reset reported on a UDP socket; keep swallowing
            }
        }
    }

    private async Task HoldTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = await _tcp.AcceptSocketAsync(_stop.Token);
                Interlocked.Increment(ref _queries);
                lock (_held)
                    _held.Add(client);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
        }
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
