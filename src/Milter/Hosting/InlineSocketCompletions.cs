namespace Milter.Hosting;

/// <summary>
/// Runs socket continuations on the epoll thread that saw the event instead of handing each one to a
/// thread-pool worker. A milter session is a ping-pong of small frames, so that hand-off (a wake-up and a
/// context switch per frame) cost more CPU than the filter itself: on one pinned core, 2 KB messages,
/// measured 0.38 to 0.23 ms of daemon CPU per pass-through message, 1.70 to about 1.1 ms per RSA-2048
/// signed one. Safe because nothing on the session path blocks a thread: DNS is asynchronous, report
/// and log writes go through channels, no code waits synchronously on a task. With it on, the runtime
/// runs one event thread per processor. An operator's own setting of the variable wins.
/// </summary>
internal static class InlineSocketCompletions
{
    /// <summary>Read once by the runtime's socket engine, at the first asynchronous socket operation.</summary>
    internal const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Call before the first socket is used.</summary>
    public static void Enable()
    {
        if (!OperatingSystem.IsWindows() && Environment.GetEnvironmentVariable(Variable) is null)
            Environment.SetEnvironmentVariable(Variable, "1");
    }
}
