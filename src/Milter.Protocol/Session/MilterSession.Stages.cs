using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

public sealed partial class MilterSession
{
    /// <summary>A decoded stage command and its row, the state of a handler call (a struct: no allocation per frame).</summary>
    private readonly record struct StageCall(MilterSession Session, CommandRule Rule, StageArgs Args);

    private static ValueTask<MilterResponse> CallHandler(StageCall c, CancellationToken ct)
        => c.Rule.Call!(c.Session._handler, c.Session._context, c.Args, ct);

    /// <summary>BODYEOB: an optional last body chunk (libmilter allows data here), then the handler with the
    /// modifier open; the modifications and the final reply go out in one send.</summary>
    private async ValueTask<bool> EndOfMessageAsync(CommandRule rule, ReadOnlyMemory<byte> data, bool startsMessage)
    {
        Enter(rule, startsMessage);
        MilterResponse? final = null;
        if (_connectionFailed || _messageFailed)
        {
            final = MilterResponse.Tempfail;
        }
        else if (!data.IsEmpty && Wants(s_body))
        {
            var chunk = await InvokeAsync(new StageCall(this, s_body, new StageArgs(Chunk: data)), CallHandler, replyExpected: true, MilterCommand.BodyEob);
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
        // The message ends before its reply leaves: the MTA may start the next message as soon as it has the reply,
        // and whoever has seen the reply must find the state between messages (message macros gone).
        await EndMessageAsync(aborted: false);
        await SendAsync(_batch.WrittenMemory);
        _batch.Reset();
        return true;
    }
}
