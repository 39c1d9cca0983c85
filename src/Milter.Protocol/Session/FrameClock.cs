namespace Milter.Protocol.Session;

/// <summary>Where a session's reading stands: between frames (idle since a time) or inside one (started at a
/// time, with the declared length once the length field is in). Timestamps are <see cref="TimeProvider"/> ones.</summary>
internal sealed class FrameClock
{
    public bool Pending { get; private set; }
    public long Started { get; private set; }
    public long IdleSince { get; private set; }
    /// <summary>The length field of the pending frame; 0 until its four bytes are in.</summary>
    public uint Declared { get; set; }

    public void Start(long now)
    {
        Pending = true;
        Started = now;
    }

    public void Clear(long now)
    {
        Pending = false;
        IdleSince = now;
        Declared = 0;
    }

    /// <summary>What is left of <paramref name="timeout"/> since the frame's first byte.</summary>
    public TimeSpan Remaining(TimeSpan timeout, TimeProvider time) => timeout - time.GetElapsedTime(Started);
}
