using System.Net.Sockets;

namespace Milter.Protocol.Server;

/// <summary>A NetworkStream that re-arms TCP_QUICKACK after every receive on Linux, so the kernel does not
/// hold back the ACK of a small command while the reply is being computed (the 40 ms Nagle/delayed-ACK stall).</summary>
internal sealed class MilterNetworkStream : NetworkStream
{
    private const int IpProtoTcp = 6;
    private const int TcpQuickAck = 12;
    private static readonly byte[] s_one = BitConverter.GetBytes(1);
    private bool _quickAck;

    public MilterNetworkStream(Socket socket, bool quickAck) : base(socket, ownsSocket: true)
        => _quickAck = quickAck && OperatingSystem.IsLinux();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await base.ReadAsync(buffer, cancellationToken);
        if (_quickAck && n > 0)
        {
            try
            {
                Socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, s_one);
            }
            catch (SocketException)
            {
                _quickAck = false; // not supported here: stop trying
            }
        }
        return n;
    }
}
