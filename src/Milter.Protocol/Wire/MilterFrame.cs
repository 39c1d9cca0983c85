using System.Buffers;

namespace Milter.Protocol.Wire;

/// <summary>One packet: the command (or response) byte and its data. The data is a slice of the
/// reader's buffer and is only valid until the reader advances past it.</summary>
public readonly struct MilterFrame
{
    public MilterFrame(byte command, ReadOnlySequence<byte> data) { Command = command; Data = data; }

    public byte Command { get; }
    public ReadOnlySequence<byte> Data { get; }
}

public enum FrameReadStatus
{
    /// <summary>Not enough bytes yet; the buffer is unchanged.</summary>
    NeedMoreData,
    /// <summary>A frame was read and the buffer now starts after it.</summary>
    Complete,
    /// <summary>The length field is 0 (no command byte): the stream cannot be resynchronised.</summary>
    EmptyFrame,
    /// <summary>The length field is above the maximum frame size.</summary>
    TooLarge,
}

/// <summary>Parses frames (uint32 big-endian length counting the command byte, the command byte, the data)
/// out of a buffer. No I/O.</summary>
public static class MilterFrameReader
{
    public const int HeaderSize = 5;

    /// <param name="buffer">Unread bytes; on <see cref="FrameReadStatus.Complete"/> it is sliced past the frame.</param>
    /// <param name="maxFrameSize">Largest accepted length field (command byte plus data).</param>
    /// <param name="declaredLength">The length field, when at least four bytes were there (for log lines).</param>
    public static FrameReadStatus TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out MilterFrame frame, out uint declaredLength)
    {
        frame = default;
        declaredLength = 0;
        if (buffer.Length < 4) return FrameReadStatus.NeedMoreData;

        Span<byte> lengthBytes = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(lengthBytes);
        declaredLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(lengthBytes);
        if (declaredLength == 0) return FrameReadStatus.EmptyFrame;
        if (declaredLength > (uint)maxFrameSize) return FrameReadStatus.TooLarge;
        if (buffer.Length < 4 + (long)declaredLength) return FrameReadStatus.NeedMoreData;

        var command = buffer.Slice(4, 1).FirstSpan[0];
        var data = buffer.Slice(HeaderSize, declaredLength - 1);
        frame = new MilterFrame(command, data);
        buffer = buffer.Slice(data.End);
        return FrameReadStatus.Complete;
    }
}
