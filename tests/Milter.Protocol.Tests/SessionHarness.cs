using System.Buffers;
using System.IO.Pipelines;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>A raw MTA talking to a <see cref="MilterSession"/> over in-memory pipes: sends any bytes, reads replies.</summary>
public sealed class SessionHarness : IAsyncDisposable
{
    private readonly Pipe _toFilter = new();
    private readonly Pipe _toMta = new();
    private readonly CancellationTokenSource _cts = new();

    /// <param name="wrapOutput">Wraps the stream the session writes its replies to (to observe the session as it sends).</param>
    public SessionHarness(IMilterHandler handler, MilterServerOptions? options = null, Func<Stream, Stream>? wrapOutput = null)
    {
        Options = options ?? new MilterServerOptions { HandlerTimeout = TimeSpan.FromSeconds(10) };
        var output = _toMta.Writer.AsStream();
        Session = new MilterSession(handler, _toFilter.Reader, wrapOutput?.Invoke(output) ?? output, Options, Logs.CreateLogger("test"), 1);
        Run = Task.Run(async () =>
        {
            await Session.RunAsync(_cts.Token);
            await _toMta.Writer.CompleteAsync();
        });
    }

    public ListLoggerFactory Logs { get; } = new();
    public MilterServerOptions Options { get; }
    public MilterSession Session { get; }
    public Task Run { get; }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _toFilter.Writer.WriteAsync(bytes);
    }

    public Task SendAsync(byte command, Action<FrameBuilder>? write = null)
    {
        using var b = new FrameBuilder();
        b.Begin(command);
        write?.Invoke(b);
        b.End();
        return SendRawAsync(b.WrittenSpan.ToArray());
    }

    public async Task<NegotiatedOptions> NegotiateAsync(uint version = 6, MilterActions actions = Negotiation.AllActions, MilterProtocolFlags flags = Negotiation.AllProtocolFlags)
    {
        await SendAsync(MilterCommand.OptNeg, b => b.WriteUInt32(version).WriteUInt32((uint)actions).WriteUInt32((uint)flags));
        var (code, data) = await ReadAsync();
        Assert.Equal(MilterCommand.OptNeg, code);
        return Negotiation.Parse(data)!;
    }

    /// <summary>The next frame from the filter, or null at EOF. Bounded by a timeout.</summary>
    public async Task<(byte Code, byte[] Data)> ReadAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await _toMta.Reader.ReadAsync(cts.Token);
            var buffer = result.Buffer;
            var status = MilterFrameReader.TryReadFrame(ref buffer, 1 << 20, out var frame, out _);
            if (status == FrameReadStatus.Complete)
            {
                var r = (frame.Command, frame.Data.ToArray());
                _toMta.Reader.AdvanceTo(buffer.Start);
                return r;
            }
            Assert.Equal(FrameReadStatus.NeedMoreData, status);
            _toMta.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) return (0, []);
        }
    }

    public async Task<MilterResponseCode> ReplyAsync() => (MilterResponseCode)(await ReadAsync()).Code;

    /// <summary>True when the session ended (closed the connection) within the timeout.</summary>
    public async Task<bool> EndedAsync(TimeSpan? timeout = null)
    {
        try
        {
            await Run.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _toFilter.Writer.CompleteAsync();
        await _cts.CancelAsync();
        try { await Run.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
        Session.Dispose();
        _cts.Dispose();
    }
}
