namespace Milter.Protocol;

/// <summary>A handler that continues at every stage and changes nothing; override what you need.</summary>
public abstract class MilterHandlerBase : IMilterHandler
{
    public virtual MilterCapabilities Capabilities { get; } = MilterCapabilities.Default;

    public virtual ValueTask<MilterResponse> OnConnectAsync(MilterContext context, ConnectInfo info, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnHeloAsync(MilterContext context, string helo, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnMailFromAsync(MilterContext context, string sender, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnRcptToAsync(MilterContext context, string recipient, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnDataAsync(MilterContext context, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnHeaderAsync(MilterContext context, string name, byte[] rawValue, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnEndOfHeadersAsync(MilterContext context, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnBodyChunkAsync(MilterContext context, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask OnAbortAsync(MilterContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    public virtual ValueTask<MilterResponse> OnUnknownAsync(MilterContext context, string command, CancellationToken cancellationToken) => MilterResponse.ContinueTask;
    public virtual ValueTask OnCloseAsync(MilterContext context) => ValueTask.CompletedTask;
}
