using System.Buffers.Binary;
using System.Text;

namespace Milter.Protocol.Wire;

/// <summary>Reads the fields of one frame's data (contiguous). Every Try method leaves the reader
/// unchanged when the field is missing or truncated, so malformed data is a result, not an exception.</summary>
public ref struct PayloadReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public PayloadReader(ReadOnlySpan<byte> data) { _data = data; _pos = 0; }

    public readonly int Remaining => _data.Length - _pos;
    public readonly bool End => _pos >= _data.Length;

    public bool TryReadByte(out byte value)
    {
        value = 0;
        if (Remaining < 1) return false;
        value = _data[_pos++];
        return true;
    }

    public bool TryReadUInt16(out ushort value)
    {
        value = 0;
        if (Remaining < 2) return false;
        value = BinaryPrimitives.ReadUInt16BigEndian(_data[_pos..]);
        _pos += 2;
        return true;
    }

    public bool TryReadUInt32(out uint value)
    {
        value = 0;
        if (Remaining < 4) return false;
        value = BinaryPrimitives.ReadUInt32BigEndian(_data[_pos..]);
        _pos += 4;
        return true;
    }

    /// <summary>A NUL-terminated string's bytes (without the NUL). False when no NUL follows.</summary>
    public bool TryReadCStringBytes(out ReadOnlySpan<byte> value)
    {
        value = default;
        var nul = _data[_pos..].IndexOf((byte)0);
        if (nul < 0) return false;
        value = _data.Slice(_pos, nul);
        _pos += nul + 1;
        return true;
    }

    /// <summary>A NUL-terminated string decoded as UTF-8 (invalid bytes become U+FFFD).</summary>
    public bool TryReadCString(out string value)
    {
        value = string.Empty;
        if (!TryReadCStringBytes(out var bytes)) return false;
        value = Decode(bytes);
        return true;
    }

    /// <summary>Reads the rest as NUL-terminated strings; false when the last one lacks its NUL.</summary>
    public bool TryReadCStringList(out List<string> values)
    {
        values = [];
        while (!End)
        {
            if (!TryReadCString(out var s)) return false;
            values.Add(s);
        }
        return true;
    }

    public static string Decode(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? string.Empty : Encoding.UTF8.GetString(bytes);
}
