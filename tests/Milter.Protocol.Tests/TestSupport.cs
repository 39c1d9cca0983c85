using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>Collects log lines so tests can assert that a defined outcome was logged.</summary>
public sealed class ListLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new ListLogger(this);
    public void AddProvider(ILoggerProvider provider) { }
    public void Dispose() { }

    public bool Has(LogLevel atLeast, string fragment)
        => Lines.Any(l => l.Level >= atLeast && l.Message.Contains(fragment, StringComparison.OrdinalIgnoreCase));

    private sealed class ListLogger(ListLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner.Lines.Enqueue((logLevel, formatter(state, exception)));
    }
}

/// <summary>Builds a ReadOnlySequence out of several segments (to split buffers anywhere).</summary>
public static class Segments
{
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var nonEmpty = parts.Length == 0 ? [Array.Empty<byte>()] : parts;
        var first = new Segment(nonEmpty[0], 0);
        var last = first;
        for (var i = 1; i < nonEmpty.Length; i++) last = last.Append(nonEmpty[i]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, long runningIndex) { Memory = data; RunningIndex = runningIndex; }
        public Segment Append(byte[] data)
        {
            var next = new Segment(data, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

/// <summary>A raw MTA talking to a <see cref="MilterSession"/> over in-memory pipes: sends any bytes, reads replies.</summary>
public sealed class SessionHarness : IAsyncDisposable
{
    private readonly Pipe _toFilter = new();
    private readonly Pipe _toMta = new();
    private readonly CancellationTokenSource _cts = new();

    public SessionHarness(IMilterHandler handler, MilterServerOptions? options = null)
    {
        Options = options ?? new MilterServerOptions { HandlerTimeout = TimeSpan.FromSeconds(10) };
        Session = new MilterSession(handler, _toFilter.Reader, _toMta.Writer.AsStream(), Options, Logs.CreateLogger("test"), 1);
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

/// <summary>A handler that records calls and can be told what to answer.</summary>
public class RecordingHandler : MilterHandlerBase
{
    public MilterCapabilities Caps { get; set; } = MilterCapabilities.Default;
    public override MilterCapabilities Capabilities => Caps;
    public ConcurrentQueue<string> Calls { get; } = new();
    public Func<IMessageModifier, MilterResponse>? OnEom { get; set; }
    public TimeSpan EomDelay { get; set; }
    public Exception? ThrowAt { get; set; }
    public string? ThrowStage { get; set; }
    public MilterContext? LastContext { get; private set; }
    public IMessageModifier? KeptModifier { get; private set; }
    public int CloseCount;

    private void Record(MilterContext ctx, string call)
    {
        LastContext = ctx;
        Calls.Enqueue(call);
        if (ThrowStage == call.Split(' ')[0] && ThrowAt is not null) throw ThrowAt;
    }

    public override ValueTask<MilterResponse> OnConnectAsync(MilterContext context, ConnectInfo info, CancellationToken ct)
    { Record(context, $"connect {info.HostName} {info.Family} {info.Port} {info.Address}"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnHeloAsync(MilterContext context, string helo, CancellationToken ct)
    { Record(context, $"helo {helo}"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnMailFromAsync(MilterContext context, string sender, IReadOnlyList<string> args, CancellationToken ct)
    { Record(context, $"mail {sender} {string.Join(",", args)}"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnRcptToAsync(MilterContext context, string rcpt, IReadOnlyList<string> args, CancellationToken ct)
    { Record(context, $"rcpt {rcpt}"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnDataAsync(MilterContext context, CancellationToken ct)
    { Record(context, "data"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnHeaderAsync(MilterContext context, string name, byte[] rawValue, CancellationToken ct)
    { Record(context, $"header {name}:{System.Text.Encoding.UTF8.GetString(rawValue)}"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnEndOfHeadersAsync(MilterContext context, CancellationToken ct)
    { Record(context, "eoh"); return MilterResponse.ContinueTask; }
    public override ValueTask<MilterResponse> OnBodyChunkAsync(MilterContext context, ReadOnlyMemory<byte> chunk, CancellationToken ct)
    { Record(context, $"body {chunk.Length}"); return MilterResponse.ContinueTask; }
    public override async ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken ct)
    {
        Record(context, "eom");
        KeptModifier = modifier;
        if (EomDelay > TimeSpan.Zero) await Task.Delay(EomDelay, ct);
        return OnEom?.Invoke(modifier) ?? MilterResponse.Continue;
    }
    public override ValueTask OnAbortAsync(MilterContext context, CancellationToken ct)
    { Record(context, "abort"); return ValueTask.CompletedTask; }
    public override ValueTask OnCloseAsync(MilterContext context)
    { Interlocked.Increment(ref CloseCount); return ValueTask.CompletedTask; }
}
