using System.Collections.Concurrent;

namespace Milter.Protocol.Tests;

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
