using System.Net;
using System.Net.Sockets;

namespace Milter.TestKit;

/// <summary>Waits until something accepts TCP connections on a loopback port.</summary>
public static class PortProbe
{
    /// <summary>Polls until a TCP connect succeeds; false after <paramref name="timeout"/> or once
    /// <paramref name="gaveUp"/> says the server process is gone.</summary>
    public static async Task<bool> WaitForTcpAsync(IPEndPoint endPoint, TimeSpan timeout, Func<bool>? gaveUp = null,
        CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (gaveUp?.Invoke() == true)
                return false;
            if (await CanConnectAsync(endPoint, TimeSpan.FromMilliseconds(500), ct))
                return true;
            await Task.Delay(25, ct);
        }
        return false;
    }

    public static async Task<bool> CanConnectAsync(IPEndPoint endPoint, TimeSpan timeout, CancellationToken ct = default)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endPoint, cts.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
