using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

public sealed partial class MilterSession
{
    /// <summary>Handles one command. False ends the session.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DispatchAsync(byte command, ReadOnlyMemory<byte> data)
    {
        if (!MilterCommand.IsKnown(command))
        {
            if (_logLimiter.Allow("unknown command"))
                _logger.LogWarning("conn {Id}: unknown command byte {Command}: closing the connection", _context.ConnectionId, MilterCommand.Name(command));
            return false;
        }

        var phase = _phase;
        if (!SessionOrder.IsAllowed(command, ref phase, _flags, out var startsMessage))
            return await OrderViolationAsync(command);
        _phase = phase;

        switch (command)
        {
            case MilterCommand.OptNeg:
                return await NegotiateAsync(data);
            case MilterCommand.Quit:
                _logger.LogDebug("conn {Id}: QUIT", _context.ConnectionId);
                return false;
            case MilterCommand.QuitNewConnection:
                await EndMessageAsync(aborted: true);
                _context.ClearConnectionMacros();
                _connectionFailed = false;
                _phase = SessionPhase.AwaitConnect;
                return true;
            case MilterCommand.Abort:
                await EndMessageAsync(aborted: true);
                return true;
            case MilterCommand.Macro:
                // Macros for a MAIL that arrives inside a message belong to the next one: end the old one first.
                if (!data.IsEmpty && data.Span[0] == MilterCommand.Mail && InMessage) await ImplicitAbortAsync();
                StoreMacros(data.Span);
                return true;
        }

        if (command == MilterCommand.Mail && InMessage) await ImplicitAbortAsync();
        if (startsMessage) StartMessage();
        _phase = SessionOrder.After(command, _phase);
        if (command == MilterCommand.BodyEob) return await EndOfMessageAsync(data);

        var replyExpected = SessionOrder.ReplyExpected(command, _flags);
        var response = await StageAsync(command, data, replyExpected);
        if (replyExpected) await ReplyAsync(command, response);
        return true;
    }

    private ValueTask ImplicitAbortAsync()
    {
        _logger.LogInformation("conn {Id}: a new SMFIC_MAIL inside message {Message} without SMFIC_ABORT: aborting that message",
            _context.ConnectionId, _context.MessageNumber);
        return EndMessageAsync(aborted: true);
    }

    private void StartMessage()
    {
        _context.MessageNumber++;
        _messageFailed = false;
        _skipBody = false;
    }

    /// <summary>Parses the command, calls the handler when it wants the stage, and maps failures to TEMPFAIL.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<MilterResponse> StageAsync(byte command, ReadOnlyMemory<byte> data, bool replyExpected)
    {
        if (_connectionFailed || (_messageFailed && InMessage)) return MilterResponse.Tempfail;
        var wanted = Wants(command);

        var call = Parse(command, data, out var error);
        if (error is not null)
        {
            if (_logLimiter.Allow("malformed command"))
                _logger.LogWarning("conn {Id}: malformed {Command}: {Error}", _context.ConnectionId, MilterCommand.Name(command), error);
            MarkFailed();
            return MilterResponse.Tempfail;
        }
        if (!wanted) return MilterResponse.Continue;

        var response = await InvokeAsync(call, static (c, ct) => c.Session.CallHandler(c, ct), replyExpected, command);
        if (response is null)
        {
            MarkFailed();
            return MilterResponse.Tempfail;
        }
        if (command == MilterCommand.Body && response.Kind == MilterResponseKind.Skip) _skipBody = true;
        return response;
    }

    /// <summary>True when the handler asked for this command's stage (body chunks: and has not answered SKIP).</summary>
    private bool Wants(byte command)
        => (_capabilities.Stages & SessionOrder.Stage(command)) != 0 && !(command == MilterCommand.Body && _skipBody);

    private void MarkFailed()
    {
        if (InMessage) _messageFailed = true;
        else _connectionFailed = true;
    }

    private async ValueTask<bool> OrderViolationAsync(byte command)
    {
        if (command == MilterCommand.OptNeg || _phase == SessionPhase.AwaitOptNeg)
        {
            if (_logLimiter.Allow("out of order"))
                _logger.LogWarning("conn {Id}: {Command} out of order (state {Phase}): closing the connection",
                    _context.ConnectionId, MilterCommand.Name(command), _phase);
            return false;
        }
        var replyExpected = SessionOrder.ReplyExpected(command, _flags);
        if (_logLimiter.Allow("out of order"))
            _logger.LogWarning("conn {Id}: {Command} out of order (state {Phase}): {Outcome}",
                _context.ConnectionId, MilterCommand.Name(command), _phase, replyExpected ? "answered TEMPFAIL" : "ignored");
        if (InMessage) _messageFailed = true;
        if (replyExpected) await SendAsync(WireConstants.SimpleReply(MilterResponseCode.Tempfail));
        return true;
    }

    private async ValueTask<bool> NegotiateAsync(ReadOnlyMemory<byte> data)
    {
        var offer = Negotiation.Parse(data.Span);
        if (offer is null || offer.Version < WireConstants.MinProtocolVersion)
        {
            if (_logLimiter.Allow("unusable OPTNEG"))
                _logger.LogWarning("conn {Id}: unusable OPTNEG ({Offer}): closing the connection",
                    _context.ConnectionId, offer is null ? "truncated" : $"version {offer.Version}");
            return false;
        }
        try
        {
            _capabilities = _handler.Capabilities;
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "conn {Id}: handler Capabilities failed: closing the connection", _context.ConnectionId);
            return false;
        }
        var reply = Negotiation.Negotiate(offer.Version, offer.Actions, offer.ProtocolFlags, _capabilities);
        Negotiated = reply;
        _flags = reply.ProtocolFlags;
        _context.ProtocolVersion = offer.Version;
        _context.Actions = reply.Actions;
        _context.ProtocolFlags = reply.ProtocolFlags;
        _phase = SessionPhase.AwaitConnect;
        _logger.LogDebug("conn {Id}: negotiated version {Version}, actions {Actions}, flags {Flags}",
            _context.ConnectionId, reply.Version, reply.Actions, reply.ProtocolFlags);

        _scratch.Reset();
        Negotiation.WriteReply(_scratch, reply);
        await SendAsync(_scratch.WrittenMemory);
        return true;
    }

    private void StoreMacros(ReadOnlySpan<byte> data)
    {
        var reader = new PayloadReader(data);
        if (!reader.TryReadByte(out var target))
        {
            if (_logLimiter.Allow("bad SMFIC_MACRO"))
                _logger.LogWarning("conn {Id}: empty SMFIC_MACRO ignored", _context.ConnectionId);
            return;
        }
        var messageScope = SessionOrder.IsMessageScope(target);
        while (!reader.End)
        {
            if (!reader.TryReadCString(out var name) || !reader.TryReadCString(out var value))
            {
                if (_logLimiter.Allow("bad SMFIC_MACRO"))
                    _logger.LogWarning("conn {Id}: truncated SMFIC_MACRO for {Command}: rest ignored", _context.ConnectionId, MilterCommand.Name(target));
                return;
            }
            if (name.Length > 0) _context.SetMacro(name, value, messageScope);
        }
    }

    /// <summary>End of a message by ABORT (handler told) or after BODYEOB.</summary>
    private async ValueTask EndMessageAsync(bool aborted)
    {
        if (aborted && InMessage)
        {
            var ok = await InvokeAsync(this, static async (s, ct) =>
            {
                await s._handler.OnAbortAsync(s._context, ct);
                return MilterResponse.Continue;
            }, replyExpected: false, MilterCommand.Abort);
            if (ok is null) _logger.LogWarning("conn {Id}: handler failed during abort", _context.ConnectionId);
        }
        _context.ClearMessageMacros();
        _messageFailed = false;
        _skipBody = false;
        if (_phase > SessionPhase.Connected) _phase = SessionPhase.Connected;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReplyAsync(byte command, MilterResponse response)
    {
        _scratch.Reset();
        AppendResponse(_scratch, command, response);
        await SendAsync(_scratch.WrittenMemory);
    }

    /// <summary>Encodes a handler response. SKIP is only sent for body chunks when the MTA offered it;
    /// otherwise it means CONTINUE. Postfix reads a reply text like a format string would: '%' is doubled.</summary>
    private void AppendResponse(FrameBuilder builder, byte command, MilterResponse response)
    {
        switch (response.Kind)
        {
            case MilterResponseKind.ReplyCode:
                builder.Begin(MilterResponseCode.ReplyCode).WriteCString(response.ReplyText!.Replace("%", "%%", StringComparison.Ordinal)).End();
                return;
            case MilterResponseKind.Skip:
                var skip = command == MilterCommand.Body && (_flags & MilterProtocolFlags.Skip) != 0;
                builder.WriteBytes(WireConstants.SimpleReply(skip ? MilterResponseCode.Skip : MilterResponseCode.Continue).Span);
                return;
            default:
                builder.WriteBytes(WireConstants.SimpleReply(ToCode(response.Kind)).Span);
                return;
        }
    }

    private static MilterResponseCode ToCode(MilterResponseKind kind) => kind switch
    {
        MilterResponseKind.Accept => MilterResponseCode.Accept,
        MilterResponseKind.Reject => MilterResponseCode.Reject,
        MilterResponseKind.Tempfail => MilterResponseCode.Tempfail,
        MilterResponseKind.Discard => MilterResponseCode.Discard,
        _ => MilterResponseCode.Continue,
    };
}
