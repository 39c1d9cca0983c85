using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

public sealed partial class MilterSession
{
    private static readonly CommandRule s_body = CommandTable.Find(MilterCommand.Body)!;

    /// <summary>Handles one command: its row in <see cref="CommandTable"/> says where it may come and what it does.
    /// False ends the session.</summary>
    private ValueTask<bool> DispatchAsync(byte command, ReadOnlyMemory<byte> data)
    {
        var rule = CommandTable.Find(command);
        if (rule is null)
        {
            if (_logLimiter.Allow("unknown command"))
                _logger.LogWarning("conn {Id}: unknown command byte {Command}: closing the connection", _context.ConnectionId, CommandTable.Name(command));
            return new ValueTask<bool>(false);
        }

        var phase = _phase;
        if (!SessionOrder.IsAllowed(rule, ref phase, _flags, out var startsMessage))
            return OrderViolationAsync(rule);
        _phase = phase;

        // No discard arm: an action added to the enum without a case here is a compile error (CS8509).
#pragma warning disable CS8524
        return rule.Action switch
        {
            CommandAction.Negotiate => NegotiateAsync(data),
            CommandAction.Quit => Quit(),
            CommandAction.NewConnection => NewConnectionAsync(),
            CommandAction.Abort => AbortAsync(),
            CommandAction.Macros => MacrosAsync(data),
            CommandAction.Stage => StageCommandAsync(rule, data, startsMessage),
            CommandAction.EndOfMessage => EndOfMessageAsync(rule, data, startsMessage),
        };
#pragma warning restore CS8524
    }

    private ValueTask<bool> Quit()
    {
        if (_logger.IsEnabled(LogLevel.Debug)) _logger.LogDebug("conn {Id}: QUIT", _context.ConnectionId);
        return new ValueTask<bool>(false);
    }

    private async ValueTask<bool> NewConnectionAsync()
    {
        await EndMessageAsync(aborted: true);
        _context.ClearConnectionMacros();
        _connectionFailed = false;
        _phase = SessionPhase.AwaitConnect;
        return true;
    }

    private async ValueTask<bool> AbortAsync()
    {
        await EndMessageAsync(aborted: true);
        return true;
    }

    private async ValueTask<bool> MacrosAsync(ReadOnlyMemory<byte> data)
    {
        // Macros for a MAIL that arrives inside a message belong to the next one: end the old one first.
        if (!data.IsEmpty && CommandTable.Find(data.Span[0])?.Scope == CommandScope.MessageStart && InMessage) await ImplicitAbortAsync();
        StoreMacros(data.Span);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> StageCommandAsync(CommandRule rule, ReadOnlyMemory<byte> data, bool startsMessage)
    {
        if (rule.Scope == CommandScope.MessageStart && InMessage) await ImplicitAbortAsync();
        Enter(rule, startsMessage);
        var replyExpected = rule.Reply.Expected(_flags);
        var response = await StageAsync(rule, data, replyExpected);
        if (replyExpected) await ReplyAsync(rule.Code, response);
        return true;
    }

    /// <summary>Moves the session into the command's phase (a new message first when it starts one).</summary>
    private void Enter(CommandRule rule, bool startsMessage)
    {
        if (startsMessage) StartMessage();
        if (rule.After is { } after) _phase = after;
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
    private async ValueTask<MilterResponse> StageAsync(CommandRule rule, ReadOnlyMemory<byte> data, bool replyExpected)
    {
        if (_connectionFailed || (_messageFailed && InMessage)) return MilterResponse.Tempfail;
        var wanted = Wants(rule);

        var args = PayloadDecoder.Decode(rule.Payload, data, out var error);
        if (error is not null)
        {
            if (_logLimiter.Allow("malformed command"))
                _logger.LogWarning("conn {Id}: malformed {Command}: {Error}", _context.ConnectionId, rule.Name, error);
            MarkFailed();
            return MilterResponse.Tempfail;
        }
        if (!wanted) return MilterResponse.Continue;

        var response = await InvokeAsync(new StageCall(this, rule, args), CallHandler, replyExpected, rule.Code);
        if (response is null)
        {
            MarkFailed();
            return MilterResponse.Tempfail;
        }
        if (rule == s_body && response.Kind == MilterResponseKind.Skip) _skipBody = true;
        return response;
    }

    /// <summary>True when the handler asked for this command's stage (body chunks: and has not answered SKIP).</summary>
    private bool Wants(CommandRule rule)
        => (_capabilities.Stages & rule.Stage) != 0 && !(rule == s_body && _skipBody);

    private void MarkFailed()
    {
        if (InMessage) _messageFailed = true;
        else _connectionFailed = true;
    }

    private async ValueTask<bool> OrderViolationAsync(CommandRule rule)
    {
        if (rule.Action == CommandAction.Negotiate || _phase == SessionPhase.AwaitOptNeg)
        {
            if (_logLimiter.Allow("out of order"))
                _logger.LogWarning("conn {Id}: {Command} out of order (state {Phase}): closing the connection",
                    _context.ConnectionId, rule.Name, _phase);
            return false;
        }
        var replyExpected = rule.Reply.Expected(_flags);
        if (_logLimiter.Allow("out of order"))
            _logger.LogWarning("conn {Id}: {Command} out of order (state {Phase}): {Outcome}",
                _context.ConnectionId, rule.Name, _phase, replyExpected ? "answered TEMPFAIL" : "ignored");
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
        // The same offer and capabilities on every connection: the answer and its frame are computed once.
        var (reply, frame) = Negotiation.NegotiateWithReply(offer.Version, offer.Actions, offer.ProtocolFlags, _capabilities);
        Negotiated = reply;
        _flags = reply.ProtocolFlags;
        _context.ProtocolVersion = offer.Version;
        _context.Actions = reply.Actions;
        _context.ProtocolFlags = reply.ProtocolFlags;
        _phase = SessionPhase.AwaitConnect;
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.LogDebug("conn {Id}: negotiated version {Version}, actions {Actions}, flags {Flags}",
                _context.ConnectionId, reply.Version, reply.Actions, reply.ProtocolFlags);

        await SendAsync(frame);
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
        var rule = CommandTable.Find(target);
        if (rule is null)
        {
            // A macro list for a command that does not exist would otherwise live as long as the connection.
            if (_logLimiter.Allow("bad SMFIC_MACRO"))
                _logger.LogWarning("conn {Id}: SMFIC_MACRO for unknown command 0x{Target:X2} ignored", _context.ConnectionId, target);
            return;
        }
        var messageScope = rule.MessageMacros;
        while (!reader.End)
        {
            if (!reader.TryReadCString(out var name) || !reader.TryReadCString(out var value))
            {
                if (_logLimiter.Allow("bad SMFIC_MACRO"))
                    _logger.LogWarning("conn {Id}: truncated SMFIC_MACRO for {Command}: rest ignored", _context.ConnectionId, CommandTable.Name(target));
                return;
            }
            if (name.Length > 0 && !_context.SetMacro(name, value, messageScope) && _logLimiter.Allow("macro cap"))
                _logger.LogWarning("conn {Id}: too many macros for {Command} (more than {Count} or {Chars} characters): {Name} ignored",
                    _context.ConnectionId, CommandTable.Name(target), MilterContext.MaxMacrosPerScope, MilterContext.MaxMacroCharsPerScope, name);
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
