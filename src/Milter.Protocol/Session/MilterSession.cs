using System.Runtime.CompilerServices;
using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>
/// One milter connection, filter side: reads frames from the MTA, enforces the command order, calls the
/// handler (with a timeout and PROGRESS keep-alives) and writes each reply in one send. Malformed input,
/// order violations and handler failures are answered (TEMPFAIL where a reply is due) and logged; only
/// framing errors, unknown commands, QUIT, EOF, idle timeout and shutdown end the session.
/// </summary>
public sealed partial class MilterSession : IDisposable
{
    private readonly IMilterHandler _handler;
    private readonly PipeReader _input;
    private readonly SessionOutput _output;
    private readonly MilterServerOptions _options;
    private readonly ILogger _logger;
    private readonly MilterContext _context;
    private readonly FrameBuilder _scratch = new();
    private readonly FrameBuilder _batch = new();
    private readonly MessageModifier _modifier;
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "The output stream seen as a MilterNetworkStream; the server that passed it in owns and disposes it.")]
    private readonly MilterNetworkStream? _quickAck;
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly FrameClock _frame = new();
    private readonly BufferBudget _budget;
    private readonly LogRateLimiter _logLimiter;
    private readonly bool _ownsLogLimiter;
    private long _reserved;
    private long _waitingSince;

    private CancellationToken _sessionToken;
    private CancellationTokenSource? _readCts;
    private MilterCapabilities _capabilities = MilterCapabilities.Default;
    private SessionPhase _phase = SessionPhase.AwaitOptNeg;
    private MilterProtocolFlags _flags;
    private bool _messageFailed;
    private bool _connectionFailed;
    private bool _skipBody;
    private volatile bool _draining;

    /// <param name="budget">Shared by the sessions of a server; a session of its own when null.</param>
    /// <param name="logLimiter">Shared by the sessions of a server, so a flood of bad connections logs a bounded
    /// number of lines; a limiter of its own when null.</param>
    public MilterSession(IMilterHandler handler, PipeReader input, Stream output, MilterServerOptions options, ILogger logger, long connectionId,
        BufferBudget? budget = null, LogRateLimiter? logLimiter = null)
    {
        _budget = budget ?? new BufferBudget(options.MaxBufferedBytes);
        _ownsLogLimiter = logLimiter is null;
        _logLimiter = logLimiter ?? new LogRateLimiter(logger, options.LogLinesPerInterval, options.LogInterval);
        _waitingSince = _time.GetTimestamp();
        _handler = handler;
        _input = input;
        _output = new SessionOutput(output);
        _quickAck = output as MilterNetworkStream;
        _options = options;
        _logger = logger;
        _context = new MilterContext(connectionId);
        _modifier = new MessageModifier(_batch, SendProgressAsync);
    }

    public MilterContext Context => _context;

    /// <summary>The options the MTA and the handler agreed on, once OPTNEG was answered.</summary>
    public NegotiatedOptions? Negotiated { get; private set; }

    /// <summary>True between the start of a message (MAIL) and its end (BODYEOB, ABORT).</summary>
    public bool InMessage => _phase >= SessionPhase.Mail;

    /// <summary>The <see cref="TimeProvider.System"/> timestamp since which the session has been waiting for
    /// the MTA (for a command, or for the rest of a frame); <see cref="long.MaxValue"/> while it handles one.</summary>
    public long WaitingSince => Volatile.Read(ref _waitingSince);

    /// <summary>Asks the session to end at the next message boundary (at once when no message is in flight).</summary>
    public void RequestDrain()
    {
        _draining = true;
        _input.CancelPendingRead();
    }

    /// <summary>Runs until QUIT, EOF, a fatal protocol error, idle timeout, drain or cancellation.
    /// Calls the handler's OnCloseAsync once at the end. Does not throw for protocol or I/O errors.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _sessionToken = cancellationToken;
        _readCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await ReadLoopAsync();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _logger.LogDebug("conn {Id}: closed by shutdown", _context.ConnectionId);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            if (_logLimiter.Allow("connection lost"))
                _logger.LogInformation("conn {Id}: connection lost: {Message}", _context.ConnectionId, ex.Message);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "conn {Id}: session failed", _context.ConnectionId);
        }
        finally
        {
            ReleaseReservation();
            await CloseHandlerAsync();
            await _input.CompleteAsync();
        }
    }

    private async Task ReadLoopAsync()
    {
        // The first frame (OPTNEG) is due within the frame deadline of the connection: Postfix and Sendmail
        // send it at once, and a client that connects and says nothing must not hold a slot for IdleTimeout.
        _frame.Start(_time.GetTimestamp());
        while (true)
        {
            if (_draining && !InMessage)
            {
                _logger.LogInformation("conn {Id}: closed for shutdown between messages", _context.ConnectionId);
                return;
            }
            if (!await ReserveForPendingFrameAsync()) return;
            var result = await ReadOrTimeoutAsync();
            if (result is not { } read) return;
            if (read.IsCanceled) continue;

            var buffer = read.Buffer;
            var replyWillAck = false;
            var completed = false;
            try
            {
                while (true)
                {
                    var status = MilterFrameReader.TryReadFrame(ref buffer, _options.MaxFrameSize, out var frame, out var length);
                    if (status == FrameReadStatus.NeedMoreData)
                    {
                        _frame.Declared = length;
                        break;
                    }
                    if (status != FrameReadStatus.Complete)
                    {
                        if (_logLimiter.Allow("bad frame length"))
                            _logger.LogWarning("conn {Id}: bad frame length {Length} (maximum {Max}): closing the connection",
                                _context.ConnectionId, length, _options.MaxFrameSize);
                        return;
                    }
                    completed = true;
                    Volatile.Write(ref _waitingSince, long.MaxValue);
                    if (!await ProcessFrameAsync(frame)) return;
                    replyWillAck = CommandTable.Find(frame.Command)?.Reply.Expected(_flags) ?? false;
                    if (_draining && !InMessage) break;
                }
                // The MTA sends nothing more until it has our reply, and that reply carries the ACK. Otherwise
                // (a command without reply last, or a frame cut short) it may be waiting for the ACK: send it.
                if (!replyWillAck || buffer.Length > 0) _quickAck?.AcknowledgeNow();
                if (read.IsCompleted)
                {
                    if (buffer.Length > 0)
                    {
                        if (_logLimiter.Allow("connection closed inside a frame"))
                            _logger.LogWarning("conn {Id}: connection closed inside a frame ({Bytes} bytes pending)", _context.ConnectionId, buffer.Length);
                    }
                    else if (_logger.IsEnabled(LogLevel.Debug))
                        _logger.LogDebug("conn {Id}: MTA closed the connection", _context.ConnectionId);
                    return;
                }
            }
            finally
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (completed) ReleaseReservation();
            }
            var now = _time.GetTimestamp();
            if (buffer.Length == 0) _frame.Clear(now);
            else if (completed || !_frame.Pending) _frame.Start(now);
        }
    }

    /// <summary>Reads with the idle timeout between frames, or what is left of the frame deadline inside one.
    /// Null when the time ran out (logged).</summary>
    private async ValueTask<ReadResult?> ReadOrTimeoutAsync()
    {
        var readCts = _readCts!;
        var timeout = _frame.Pending ? _frame.Remaining(_options.FrameTimeout, _time) : _options.IdleTimeout;
        if (timeout <= TimeSpan.Zero)
        {
            LogFrameTimeout();
            return null;
        }
        Volatile.Write(ref _waitingSince, _frame.Pending ? _frame.Started : _frame.IdleSince);
        readCts.CancelAfter(timeout);
        ReadResult result;
        try
        {
            result = await _input.ReadAsync(readCts.Token);
        }
        catch (OperationCanceledException) when (!_sessionToken.IsCancellationRequested)
        {
            if (_frame.Pending) LogFrameTimeout();
            else if (_logLimiter.Allow("idle timeout"))
                _logger.LogWarning("conn {Id}: no command from the MTA for {Timeout}: closing", _context.ConnectionId, _options.IdleTimeout);
            return null;
        }
        if (!readCts.TryReset())
        {
            readCts.Dispose();
            _readCts = CancellationTokenSource.CreateLinkedTokenSource(_sessionToken);
        }
        return result;
    }

    private void LogFrameTimeout()
    {
        if (_logLimiter.Allow("frame timeout"))
        {
            if (_phase == SessionPhase.AwaitOptNeg && _frame.Declared == 0)
                _logger.LogWarning("conn {Id}: no OPTNEG within {Timeout} of connecting: closing", _context.ConnectionId, _options.FrameTimeout);
            else
                _logger.LogWarning("conn {Id}: frame not complete within {Timeout} of its first byte: closing", _context.ConnectionId, _options.FrameTimeout);
        }
    }

    /// <summary>Before reading more of a large frame, takes its declared length from the server's buffer budget,
    /// waiting (within the frame deadline) while other connections hold it. False when the deadline passed.</summary>
    private async ValueTask<bool> ReserveForPendingFrameAsync()
    {
        var declared = _frame.Declared;
        if (!_frame.Pending || declared <= MilterServerOptions.SmallFrameSize || _reserved > 0) return true;
        var remaining = _frame.Remaining(_options.FrameTimeout, _time);
        if (remaining <= TimeSpan.Zero)
        {
            LogFrameTimeout();
            return false;
        }
        Volatile.Write(ref _waitingSince, _frame.Started);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_sessionToken);
        cts.CancelAfter(remaining);
        try
        {
            await _budget.ReserveAsync(declared, cts.Token);
        }
        catch (OperationCanceledException) when (!_sessionToken.IsCancellationRequested)
        {
            if (_logLimiter.Allow("buffer budget"))
                _logger.LogWarning("conn {Id}: frame of {Length} bytes still waiting for buffer space ({Budget} bytes, all in use) after {Timeout}: closing",
                    _context.ConnectionId, declared, _budget.Capacity, _options.FrameTimeout);
            return false;
        }
        _reserved = declared;
        return true;
    }

    private void ReleaseReservation()
    {
        var reserved = _reserved;
        _reserved = 0;
        _budget.Release(reserved);
    }

    /// <summary>Gives the frame data as one block (a slice of the pipe, or a pooled copy when it spans segments).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ProcessFrameAsync(MilterFrame frame)
    {
        var data = frame.Data;
        if (data.IsSingleSegment) return await DispatchAsync(frame.Command, data.First);
        var length = (int)data.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            data.CopyTo(rented);
            return await DispatchAsync(frame.Command, rented.AsMemory(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private async ValueTask CloseHandlerAsync()
    {
        await AwaitAbandonedAsync();
        try
        {
            await _handler.OnCloseAsync(_context).AsTask().WaitAsync(_options.HandlerTimeout);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "conn {Id}: handler OnCloseAsync failed", _context.ConnectionId);
        }
    }

    private ValueTask SendAsync(ReadOnlyMemory<byte> data) => _output.SendAsync(data, _sessionToken);

    private ValueTask SendProgressAsync(CancellationToken cancellationToken)
        => _output.SendAsync(WireConstants.SimpleReply(MilterResponseCode.Progress), cancellationToken);

    public void Dispose()
    {
        _readCts?.Dispose();
        _callCts?.Dispose();
        _output.Dispose();
        _scratch.Dispose();
        _batch.Dispose();
        if (_ownsLogLimiter) _logLimiter.Dispose();
    }
}
