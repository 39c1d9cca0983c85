using System.Buffers;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Client;

public sealed partial class MilterClient
{
    /// <summary>MAIL .. BODYEOB for one message; stops at the first reply other than CONTINUE
    /// (a rejected recipient stops it too: the result names the stage).</summary>
    public async Task<TransactionResult> SendMessageAsync(MilterTransaction tx, CancellationToken ct = default)
    {
        var reply = await MailFromAsync(tx.Sender, tx.MailArgs, tx.MailMacros, ct);
        if (!reply.IsContinue) return new TransactionResult("mail", reply, []);
        foreach (var rcpt in tx.Recipients)
        {
            reply = await RcptToAsync(rcpt, null, tx.RcptMacros, ct);
            if (!reply.IsContinue) return new TransactionResult("rcpt", reply, []);
        }
        reply = await DataAsync(null, ct);
        if (!reply.IsContinue) return new TransactionResult("data", reply, []);
        var leadingSpace = Negotiated?.Has(MilterProtocolFlags.HeaderLeadingSpace) == true;
        foreach (var (name, value) in tx.Headers)
        {
            var sent = !leadingSpace && value.StartsWith(' ') ? value[1..] : value;
            reply = await HeaderAsync(name, sent, null, ct);
            if (!reply.IsContinue) return new TransactionResult("header", reply, []);
        }
        reply = await EndOfHeadersAsync(null, ct);
        if (!reply.IsContinue) return new TransactionResult("eoh", reply, []);
        reply = await BodyAsync(tx.Body, null, ct);
        if (!reply.IsContinue && reply.Code != MilterResponseCode.Skip) return new TransactionResult("body", reply, []);
        var eom = await EndOfMessageAsync(tx.EndOfMessageMacros, ct);
        return new TransactionResult("eom", eom.Reply, eom.Modifications);
    }

    private async Task<MilterReply> CommandAsync(byte command, IReadOnlyDictionary<string, string>? macros, Action<FrameBuilder>? write, CancellationToken ct)
    {
        var flags = Negotiated?.ProtocolFlags ?? MilterProtocolFlags.None;
        // The flags under which the filter asked the MTA (us) not to send this command, or not to wait for its reply.
        var rule = CommandTable.Find(command)!;
        var (no, noReply) = (rule.Omitted, rule.Reply.UnlessFlag);
        if ((flags & no) != 0) return MilterReply.Continue;
        using var cts = Deadline(ct);
        Prepare(command, macros, write);
        if ((flags & noReply) != 0 && BatchNoReplyCommands && _out.Length < MaxHeldBytes)
        {
            _held = true;
            return MilterReply.Continue;
        }
        await SendAsync(cts.Token);
        if ((flags & noReply) != 0) return MilterReply.Continue;
        while (true)
        {
            var (code, data) = await ReadFrameAsync(cts.Token);
            if (code == (byte)MilterResponseCode.Progress) continue;
            return ToReply(code, data);
        }
    }

    /// <summary>The MACRO frame (if any) and the command frame, built for one send (after any held frames).</summary>
    private void Prepare(byte command, IReadOnlyDictionary<string, string>? macros, Action<FrameBuilder>? write)
    {
        if (!_held) _out.Reset();
        if (macros is { Count: > 0 })
        {
            _out.Begin(MilterCommand.Macro).WriteByte(command);
            foreach (var (name, value) in macros) _out.WriteCString(Negotiation.BraceName(name)).WriteCString(value);
            _out.End();
        }
        _out.Begin(command);
        write?.Invoke(_out);
        _out.End();
    }

    private static void WriteArgv(FrameBuilder b, string first, IEnumerable<string>? rest)
    {
        b.WriteCString(first);
        if (rest is null) return;
        foreach (var a in rest) b.WriteCString(a);
    }

    private async Task SendAsync(CancellationToken ct)
    {
        _held = false;
        await _stream.WriteAsync(_out.WrittenMemory, ct);
    }

    private CancellationTokenSource Deadline(CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_timeout);
        return cts;
    }

    private async Task<(byte Code, byte[] Data)> ReadFrameAsync(CancellationToken ct)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(ct);
            var buffer = result.Buffer;
            var consumed = false;
            try
            {
                var status = MilterFrameReader.TryReadFrame(ref buffer, MaxReplyFrame, out var frame, out var length);
                switch (status)
                {
                    case FrameReadStatus.Complete:
                        consumed = true;
                        return (frame.Command, frame.Data.ToArray());
                    case FrameReadStatus.EmptyFrame:
                    case FrameReadStatus.TooLarge:
                        throw new MilterProtocolException($"bad reply frame length {length}");
                }
                if (result.IsCompleted) throw new IOException("the filter closed the connection");
            }
            finally
            {
                // After a frame, leave the rest unexamined so the next read sees a frame already buffered.
                if (consumed) _reader.AdvanceTo(buffer.Start);
                else _reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }

    private static MilterReply ToReply(byte code, byte[] data)
    {
        if (code == (byte)MilterResponseCode.ReplyCode)
        {
            var reader = new PayloadReader(data);
            return new MilterReply(MilterResponseCode.ReplyCode, reader.TryReadCString(out var text) ? text : PayloadReader.Decode(data));
        }
        if (!MilterResponseCodes.IsDefined(code)) throw new MilterProtocolException($"unknown reply code 0x{code:x2}");
        return new MilterReply((MilterResponseCode)code);
    }

    private static MilterModification ParseModification(MilterResponseCode code, byte[] data)
    {
        var reader = new PayloadReader(data);
        switch (code)
        {
            case MilterResponseCode.ReplaceBody:
                return new MilterModification(code, 0, null, null, data);
            case MilterResponseCode.InsertHeader:
            case MilterResponseCode.ChangeHeader:
                if (!reader.TryReadUInt32(out var index) || !reader.TryReadCString(out var hn) || !reader.TryReadCString(out var hv))
                    throw new MilterProtocolException($"truncated {code}");
                return new MilterModification(code, (int)index, hn, hv, null);
            case MilterResponseCode.AddHeader:
                if (!reader.TryReadCString(out var an) || !reader.TryReadCString(out var av))
                    throw new MilterProtocolException($"truncated {code}");
                return new MilterModification(code, 0, an, av, null);
            case MilterResponseCode.Quarantine:
                return new MilterModification(code, 0, null, reader.TryReadCString(out var reason) ? reason : throw new MilterProtocolException("truncated QUARANTINE"), null);
            default:
                if (!reader.TryReadCString(out var address)) throw new MilterProtocolException($"truncated {code}");
                string? args = reader.End ? null : reader.TryReadCString(out var a) ? a : throw new MilterProtocolException($"truncated {code}");
                return new MilterModification(code, 0, address, args, null);
        }
    }
}
