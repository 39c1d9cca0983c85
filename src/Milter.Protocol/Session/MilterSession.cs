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
    private readonly MilterNetworkStream? _quickAck;

    private CancellationToken _sessionToken;
    private CancellationTokenSource? _readCts;
    private MilterCapabilities _capabilities = MilterCapabilities.Default;
    private SessionPhase _phase = SessionPhase.AwaitOptNeg;
    private MilterProtocolFlags _flags;
    private bool _messageFailed;
    private bool _connectionFailed;
    private bool _skipBody;
    private volatile bool _draining;

    public MilterSession(IMilterHandler handler, PipeReader input, Stream output, MilterServerOptions options, ILogger logger, long connectionId)
    {
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
            _logger.LogInformation("conn {Id}: connection lost: {Message}", _context.ConnectionId, ex.Message);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "conn {Id}: session failed", _context.ConnectionId);
        }
        finally
        {
            await CloseHandlerAsync();
            await _input.CompleteAsync();
        }
    }

    private async Task ReadLoopAsync()
    {
        var readCts = _readCts!;
        while (true)
        {
            if (_draining && !InMessage)
            {
                _logger.LogInformation("conn {Id}: closed for shutdown between messages", _context.ConnectionId);
                return;
            }
            ReadResult result;
            readCts.CancelAfter(_options.IdleTimeout);
            try
            {
                result = await _input.ReadAsync(readCts.Token);
            }
            catch (OperationCanceledException) when (!_sessionToken.IsCancellationRequested)
            {
                _logger.LogWarning("conn {Id}: no command from the MTA for {Timeout}: closing", _context.ConnectionId, _options.IdleTimeout);
                return;
            }
            if (!readCts.TryReset())
            {
                readCts.Dispose();
                readCts = _readCts = CancellationTokenSource.CreateLinkedTokenSource(_sessionToken);
            }
            if (result.IsCanceled) continue;

            var buffer = result.Buffer;
            var replyWillAck = false;
            try
            {
                while (true)
                {
                    var status = MilterFrameReader.TryReadFrame(ref buffer, _options.MaxFrameSize, out var frame, out var length);
                    if (status == FrameReadStatus.NeedMoreData) break;
                    if (status != FrameReadStatus.Complete)
                    {
                        _logger.LogWarning("conn {Id}: bad frame length {Length} (maximum {Max}): closing the connection",
                            _context.ConnectionId, length, _options.MaxFrameSize);
                        return;
                    }
                    if (!await ProcessFrameAsync(frame)) return;
                    replyWillAck = SessionOrder.ReplyExpected(frame.Command, _flags);
                    if (_draining && !InMessage) break;
                }
                // The MTA sends nothing more until it has our reply, and that reply carries the ACK. Otherwise
                // (a command without reply last, or a frame cut short) it may be waiting for the ACK: send it.
                if (!replyWillAck || buffer.Length > 0) _quickAck?.AcknowledgeNow();
                if (result.IsCompleted)
                {
                    if (buffer.Length > 0)
                        _logger.LogWarning("conn {Id}: connection closed inside a frame ({Bytes} bytes pending)", _context.ConnectionId, buffer.Length);
                    else
                        _logger.LogDebug("conn {Id}: MTA closed the connection", _context.ConnectionId);
                    return;
                }
            }
            finally
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
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
    }
}
