using System.Net;
using System.Net.Sockets;

namespace Milter.TestKit;

/// <summary>Finds free loopback ports. A port is handed out once per test run, so parallel fixtures in
/// this process never get the same one; another process can still take it, so fixtures retry on conflict.</summary>
public static class FreePort
{
    private static readonly HashSet<int> Issued = [];

    /// <summary>A port free for TCP on 127.0.0.1 (and, with <paramref name="alsoUdp"/>, for UDP too).</summary>
    public static int Next(bool alsoUdp = false)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int port;
            using (var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            }
            if (alsoUdp && !UdpFree(port))
                continue;
            lock (Issued)
            {
                if (Issued.Add(port))
                    return port;
            }
        }
        throw new InvalidOperationException("no free loopback port found after 100 attempts");
    }

    private static bool UdpFree(int port)
    {
        try
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>True when ::1 can be bound here (IPv6 loopback configured).</summary>
    public static bool HasIPv6Loopback { get; } = ProbeIPv6();

    private static bool ProbeIPv6()
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
