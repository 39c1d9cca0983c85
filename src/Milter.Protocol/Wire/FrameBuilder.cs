using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Milter.Protocol.Wire;

/// <summary>
/// Builds one or more frames into a pooled buffer so that they go out in a single send.
/// Usage: <c>Begin(cmd)</c>, write fields, <c>End()</c>; repeat; then send <see cref="WrittenMemory"/>; <c>Reset()</c> to reuse.
/// Not thread-safe. Dispose returns the buffer to the pool.
/// </summary>
public sealed class FrameBuilder : IDisposable
{
    private byte[] _buffer;
    private int _written;
    private int _frameStart = -1;

    public FrameBuilder(int initialCapacity = 256) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(16, initialCapacity));

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);
    public int Length => _written;
    /// <summary>Bytes in the frame being built (command byte and data), 0 when none is open.</summary>
    public int CurrentFrameLength => _frameStart < 0 ? 0 : _written - _frameStart - 4;

    public void Reset() { _written = 0; _frameStart = -1; }

    public FrameBuilder Begin(byte command)
    {
        if (_frameStart >= 0) throw new InvalidOperationException("a frame is already open");
        Ensure(5);
        _frameStart = _written;
        _written += 4;
        _buffer[_written++] = command;
        return this;
    }

    public FrameBuilder Begin(MilterResponseCode code) => Begin((byte)code);

    /// <summary>Closes the open frame by writing its length field.</summary>
    public void End()
    {
        if (_frameStart < 0) throw new InvalidOperationException("no frame is open");
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_frameStart), (uint)(_written - _frameStart - 4));
        _frameStart = -1;
    }

    /// <summary>Drops the open frame (e.g. after a validation failure while writing it).</summary>
    public void Cancel()
    {
        if (_frameStart < 0) return;
        _written = _frameStart;
        _frameStart = -1;
    }

    /// <summary>A frame with no data.</summary>
    public void Add(byte command) { Begin(command); End(); }

    public FrameBuilder WriteByte(byte value) { Ensure(1); _buffer[_written++] = value; return this; }

    public FrameBuilder WriteUInt16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_written), value);
        _written += 2;
        return this;
    }

    public FrameBuilder WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_written), value);
        _written += 4;
        return this;
    }

    public FrameBuilder WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_written));
        _written += bytes.Length;
        return this;
    }

    /// <summary>The string as UTF-8 and a NUL. A NUL inside the string is refused (it would split the field).</summary>
    public FrameBuilder WriteCString(string value)
    {
        if (value.Contains('\0')) throw new ArgumentException("a milter string cannot contain NUL", nameof(value));
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Ensure(max + 1);
        _written += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_written));
        _buffer[_written++] = 0;
        return this;
    }

    /// <summary>Raw bytes and a NUL; a NUL inside is refused.</summary>
    public FrameBuilder WriteCString(ReadOnlySpan<byte> value)
    {
        if (value.Contains((byte)0)) throw new ArgumentException("a milter string cannot contain NUL", nameof(value));
        WriteBytes(value);
        return WriteByte(0);
    }

    private void Ensure(int more)
    {
        if (_buffer.Length - _written >= more) return;
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + more));
        _buffer.AsSpan(0, _written).CopyTo(next);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }

    public void Dispose()
    {
        var b = _buffer;
        _buffer = [];
        _written = 0;
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
