using System.Net.Sockets;

namespace Milter.Protocol.Server;

/// <summary>A NetworkStream that can ask Linux for an immediate ACK (TCP_QUICKACK) of what was received, so an
/// MTA that writes commands which get no reply (NR_* headers, body, macros) with Nagle on is not held back by
/// our delayed ACK (the 40 ms Nagle/delayed-ACK stall). The session asks for it only when no reply of its own
/// is about to carry the ACK: forcing it after every receive cost one extra ACK packet per command.</summary>
internal sealed class MilterNetworkStream : NetworkStream
{
    private const int IpProtoTcp = 6;
    private const int TcpQuickAck = 12;
    private static readonly byte[] s_one = BitConverter.GetBytes(1);
    private bool _quickAck;

    public MilterNetworkStream(Socket socket, bool quickAck) : base(socket, ownsSocket: true)
        => _quickAck = quickAck && OperatingSystem.IsLinux();

    /// <summary>Sends the pending ACK now and leaves delayed-ACK (ping-pong) mode until our next reply.</summary>
    public void AcknowledgeNow()
    {
        if (!_quickAck) return;
        try
        {
            Socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, s_one);
        }
        catch (SocketException)
        {
            _quickAck = false; // not supported here: stop trying
        }
        catch (ObjectDisposedException)
        {
            _quickAck = false;
        }
    }
}
