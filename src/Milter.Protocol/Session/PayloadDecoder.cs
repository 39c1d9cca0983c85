using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>Decodes a stage command's data by the payload shape of its row in <see cref="CommandTable"/>.</summary>
internal static class PayloadDecoder
{
    /// <summary>The handler's arguments; <paramref name="error"/> says what is wrong when the data does not fit the shape.</summary>
    // No discard arm: a shape added to the enum without a case here is a compile error (CS8509). CS8524 is
    // the same warning for values outside the enum, which the table never holds.
#pragma warning disable CS8524
    public static StageArgs Decode(PayloadShape shape, ReadOnlyMemory<byte> data, out string? error) => shape switch
    {
        PayloadShape.None => Nothing(out error),
        PayloadShape.Connect => Connect(data.Span, out error),
        PayloadShape.Text => Text(data.Span, out error),
        PayloadShape.Addresses => Addresses(data.Span, out error),
        PayloadShape.Header => Header(data.Span, out error),
        PayloadShape.Chunk => Chunk(data, out error),
    };
#pragma warning restore CS8524

    private static StageArgs Nothing(out string? error)
    {
        error = null;
        return default;
    }

    private static StageArgs Chunk(ReadOnlyMemory<byte> data, out string? error)
    {
        error = null;
        return new StageArgs(Chunk: data);
    }

    private static StageArgs Text(ReadOnlySpan<byte> data, out string? error)
    {
        var reader = new PayloadReader(data);
        error = reader.TryReadCString(out var text) ? null : "missing NUL-terminated string";
        return new StageArgs(Text: text);
    }

    private static StageArgs Addresses(ReadOnlySpan<byte> data, out string? error)
    {
        var reader = new PayloadReader(data);
        if (!reader.TryReadCStringList(out var list) || list.Count == 0)
        {
            error = "missing or truncated address";
            return default;
        }
        error = null;
        var address = list[0];
        list.RemoveAt(0);
        return new StageArgs(Text: address, Args: list);
    }

    private static StageArgs Header(ReadOnlySpan<byte> data, out string? error)
    {
        var reader = new PayloadReader(data);
        if (!reader.TryReadCString(out var name) || !reader.TryReadCStringBytes(out var value))
        {
            error = "truncated header name or value";
            return default;
        }
        error = null;
        return new StageArgs(Text: name, Bytes: value.ToArray());
    }

    private static StageArgs Connect(ReadOnlySpan<byte> data, out string? error)
    {
        error = null;
        var reader = new PayloadReader(data);
        if (!reader.TryReadCString(out var host) || !reader.TryReadByte(out var familyByte))
        {
            error = "truncated host name or family";
            return default;
        }
        ConnectFamily family;
        switch (familyByte)
        {
            case MilterAddressFamily.Unknown:
                return new StageArgs(Connect: new ConnectInfo(host, ConnectFamily.Unknown, 0, string.Empty));
            case MilterAddressFamily.Unix: family = ConnectFamily.Unix; break;
            case MilterAddressFamily.Inet: family = ConnectFamily.IPv4; break;
            case MilterAddressFamily.Inet6: family = ConnectFamily.IPv6; break;
            default:
                error = $"bad address family 0x{familyByte:x2}";
                return default;
        }
        if (!reader.TryReadUInt16(out var port) || !reader.TryReadCString(out var address))
        {
            error = "truncated port or address";
            return default;
        }
        return new StageArgs(Connect: new ConnectInfo(host, family, port, address));
    }
}
