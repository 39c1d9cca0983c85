using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

public sealed partial class MilterSession
{
    /// <summary>One parsed command, ready for the handler (a struct: no allocation for body chunks).</summary>
    private readonly record struct StageCall(
        MilterSession Session,
        byte Command,
        string? Text = null,
        IReadOnlyList<string>? Args = null,
        byte[]? Bytes = null,
        ReadOnlyMemory<byte> Chunk = default,
        ConnectInfo? Connect = null);

    private StageCall Parse(byte command, ReadOnlyMemory<byte> data, out string? error)
    {
        error = null;
        var reader = new PayloadReader(data.Span);
        switch (command)
        {
            case MilterCommand.Connect:
                return ParseConnect(ref reader, out error);
            case MilterCommand.Helo:
            case MilterCommand.Unknown:
                if (!reader.TryReadCString(out var text)) error = "missing NUL-terminated string";
                return new StageCall(this, command, Text: text);
            case MilterCommand.Mail:
            case MilterCommand.Rcpt:
                if (!reader.TryReadCStringList(out var list) || list.Count == 0)
                {
                    error = "missing or truncated address";
                    return default;
                }
                var address = list[0];
                list.RemoveAt(0);
                return new StageCall(this, command, Text: address, Args: list);
            case MilterCommand.Header:
                if (!reader.TryReadCString(out var name) || !reader.TryReadCStringBytes(out var value))
                {
                    error = "truncated header name or value";
                    return default;
                }
                return new StageCall(this, command, Text: name, Bytes: value.ToArray());
            case MilterCommand.Body:
                return new StageCall(this, command, Chunk: data);
            default:
                return new StageCall(this, command);
        }
    }

    private StageCall ParseConnect(ref PayloadReader reader, out string? error)
    {
        error = null;
        if (!reader.TryReadCString(out var host) || !reader.TryReadByte(out var familyByte))
        {
            error = "truncated host name or family";
            return default;
        }
        ConnectFamily family;
        switch (familyByte)
        {
            case MilterAddressFamily.Unknown:
                return new StageCall(this, MilterCommand.Connect, Connect: new ConnectInfo(host, ConnectFamily.Unknown, 0, string.Empty));
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
        return new StageCall(this, MilterCommand.Connect, Connect: new ConnectInfo(host, family, port, address));
    }

    private ValueTask<MilterResponse> CallHandler(in StageCall c, CancellationToken ct) => c.Command switch
    {
        MilterCommand.Connect => _handler.OnConnectAsync(_context, c.Connect!, ct),
        MilterCommand.Helo => _handler.OnHeloAsync(_context, c.Text!, ct),
        MilterCommand.Mail => _handler.OnMailFromAsync(_context, c.Text!, c.Args!, ct),
        MilterCommand.Rcpt => _handler.OnRcptToAsync(_context, c.Text!, c.Args!, ct),
        MilterCommand.Data => _handler.OnDataAsync(_context, ct),
        MilterCommand.Header => _handler.OnHeaderAsync(_context, c.Text!, c.Bytes!, ct),
        MilterCommand.EndOfHeaders => _handler.OnEndOfHeadersAsync(_context, ct),
        MilterCommand.Body => _handler.OnBodyChunkAsync(_context, c.Chunk, ct),
        MilterCommand.Unknown => _handler.OnUnknownAsync(_context, c.Text!, ct),
        _ => MilterResponse.ContinueTask,
    };

    /// <summary>BODYEOB: an optional last body chunk (libmilter allows data here), then the handler with the
    /// modifier open; the modifications and the final reply go out in one send.</summary>
    private async ValueTask<bool> EndOfMessageAsync(ReadOnlyMemory<byte> data)
    {
        MilterResponse? final = null;
        if (_connectionFailed || _messageFailed)
        {
            final = MilterResponse.Tempfail;
        }
        else if (!data.IsEmpty && Wants(MilterCommand.Body))
        {
            var chunk = await InvokeAsync(new StageCall(this, MilterCommand.Body, Chunk: data),
                static (c, ct) => c.Session.CallHandler(c, ct), replyExpected: true, MilterCommand.BodyEob);
            if (chunk is null) final = MilterResponse.Tempfail;
            else if (chunk.Kind is not (MilterResponseKind.Continue or MilterResponseKind.Skip)) final = chunk;
        }

        if (final is null)
        {
            _modifier.Begin(_context.Actions);
            try
            {
                final = await InvokeAsync(this, static (s, ct) => s._handler.OnEndOfMessageAsync(s._context, s._modifier, ct),
                    replyExpected: true, MilterCommand.BodyEob);
            }
            finally
            {
                _modifier.Close();
            }
            if (final is null)
            {
                _logger.LogWarning("conn {Id}: message {Message} answered TEMPFAIL; {Count} modification(s) dropped",
                    _context.ConnectionId, _context.MessageNumber, _modifier.Count);
                final = MilterResponse.Tempfail;
                _batch.Reset();
            }
        }
        else
        {
            _batch.Reset();
        }

        AppendResponse(_batch, MilterCommand.BodyEob, final);
        await SendAsync(_batch.WrittenMemory);
        _batch.Reset();
        await EndMessageAsync(aborted: false);
        return true;
    }
}
