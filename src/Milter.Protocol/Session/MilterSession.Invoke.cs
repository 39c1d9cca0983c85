using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

public sealed partial class MilterSession
{
    private const int AbandonGraceMilliseconds = 1000;
    private CancellationTokenSource? _callCts;
    private Task? _abandoned;

    /// <summary>
    /// Calls the handler with a token that fires HandlerTimeout after the call went asynchronous (or at
    /// shutdown). A call that completes synchronously costs nothing extra. A slow one gets SMFIR_PROGRESS every ProgressInterval
    /// when the MTA waits for a reply (so its command timeout does not fire during a slow DNS lookup).
    /// Returns null when the handler threw or timed out (logged); the caller answers TEMPFAIL.
    /// A handler that ignores its token past the timeout is abandoned and awaited before the next call.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<MilterResponse?> InvokeAsync<TState>(TState state, Func<TState, CancellationToken, ValueTask<MilterResponse>> call, bool replyExpected, byte command)
    {
        await AwaitAbandonedAsync();
        var cts = _callCts ??= CancellationTokenSource.CreateLinkedTokenSource(_sessionToken);
        try
        {
            var pending = call(state, cts.Token);
            if (pending.IsCompletedSuccessfully) return pending.Result;
            // The timer is armed only once the call has gone asynchronous (its synchronous part is CPU work
            // on data already received): most stages complete at once and then cost no timer work at all.
            cts.CancelAfter(_options.HandlerTimeout);
            return await WaitWithProgressAsync(pending.AsTask(), replyExpected);
        }
        catch (OperationCanceledException) when (_sessionToken.IsCancellationRequested)
        {
            throw;
        }
        catch (HandlerAbandonedException)
        {
            _logger.LogError("conn {Id}: handler timed out after {Timeout} at {Command} and ignored cancellation: abandoned",
                _context.ConnectionId, _options.HandlerTimeout, CommandTable.Name(command));
            return null;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            _logger.LogError("conn {Id}: handler timed out after {Timeout} at {Command}", _context.ConnectionId, _options.HandlerTimeout, CommandTable.Name(command));
            return null;
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "conn {Id}: handler failed at {Command}", _context.ConnectionId, CommandTable.Name(command));
            return null;
        }
        finally
        {
            if (_abandoned is not null || !cts.TryReset())
            {
                // The token may still be in use (abandoned call) or has fired: never reuse it.
                if (_abandoned is null) cts.Dispose();
                _callCts = null;
            }
        }
    }

    private async Task<MilterResponse> WaitWithProgressAsync(Task<MilterResponse> task, bool replyExpected)
    {
        var timeout = _options.HandlerTimeout;
        // The token fires at the timeout; the grace lets a handler observe it before it is abandoned.
        var deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue
            : Environment.TickCount64 + (long)timeout.TotalMilliseconds + AbandonGraceMilliseconds;
        while (!task.IsCompleted)
        {
            var remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
            {
                _abandoned = task;
                throw new HandlerAbandonedException();
            }
            var progress = _options.ProgressInterval;
            var wait = replyExpected && progress != Timeout.InfiniteTimeSpan ? Math.Min(remaining, (long)progress.TotalMilliseconds) : remaining;
            using (var delayCts = CancellationTokenSource.CreateLinkedTokenSource(_sessionToken))
            {
                var delay = Task.Delay(TimeSpan.FromMilliseconds(Math.Min(wait, int.MaxValue)), delayCts.Token);
                var first = await Task.WhenAny(task, delay);
                if (first == task) { delayCts.Cancel(); break; }
                _sessionToken.ThrowIfCancellationRequested();
            }
            if (replyExpected && !task.IsCompleted && deadline - Environment.TickCount64 > 0)
                await SendProgressAsync(_sessionToken);
        }
        return await task;
    }

    /// <summary>Waits for a handler call that outlived its timeout, so two calls never overlap.</summary>
    private async ValueTask AwaitAbandonedAsync()
    {
        var task = _abandoned;
        if (task is null) return;
        _abandoned = null;
        _logger.LogWarning("conn {Id}: waiting for a timed-out handler call to return", _context.ConnectionId);
        try
        {
            await task.WaitAsync(_sessionToken);
        }
        catch (OperationCanceledException) when (_sessionToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception)
        {
            // Already answered TEMPFAIL and logged when it timed out.
        }
    }

    private sealed class HandlerAbandonedException : Exception;
}
