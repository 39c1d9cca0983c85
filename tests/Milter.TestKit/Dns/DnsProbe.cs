using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Milter.TestKit.Dns;

/// <summary>The header of a DNS reply, as far as the fixtures need it.</summary>
public sealed record DnsProbeReply(int ResponseCode, bool Authoritative, int AnswerCount);

/// <summary>A minimal DNS client over UDP (RFC 1035 4.1): one question, no recursion, reads only the
/// reply header. Used to wait until a server answers, with no dependency on a DNS library.</summary>
public static class DnsProbe
{
    public const int TypeA = 1, TypeSoa = 6, TypeTxt = 16;

    /// <summary>Sends one query and waits up to <paramref name="timeout"/>; null when nothing came back.</summary>
    public static async Task<DnsProbeReply?> QueryAsync(IPEndPoint server, string name, int type, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        ushort id = (ushort)Random.Shared.Next(1, ushort.MaxValue);
        byte[] query = BuildQuery(id, name, type);
        using var udp = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        udp.Connect(server);
        await udp.SendAsync(query, SocketFlags.None, cancellationToken);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int received = await udp.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (received >= 12 && BinaryPrimitives.ReadUInt16BigEndian(buffer) == id)
                {
                    ushort flags = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2));
                    return new DnsProbeReply(flags & 0xF, (flags & 0x0400) != 0,
                        BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (SocketException)
        {
            return null; // ICMP port unreachable: nobody listens (yet)
        }
    }

    public static byte[] BuildQuery(ushort id, string name, int type)
    {
        var packet = new List<byte>(64);
        packet.AddRange([(byte)(id >> 8), (byte)id, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        foreach (string label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            byte[] bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length > 63)
                throw new ArgumentException($"label '{label}' is longer than 63 bytes", nameof(name));
            packet.Add((byte)bytes.Length);
            packet.AddRange(bytes);
        }
        packet.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        return [.. packet];
    }
}
