namespace Milter.Protocol.Server;

/// <summary>Limits and timers of the milter server (and of each session it runs).</summary>
public sealed class MilterServerOptions
{
    /// <summary>Largest accepted packet (length field: command byte plus data). A bigger one closes that connection.</summary>
    public int MaxFrameSize { get; set; } = 1024 * 1024;
    /// <summary>No command from the MTA for this long: close the connection.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>A frame must arrive whole within this time of its first byte, and the first frame (OPTNEG)
    /// within this time of the connection: a client that trickles bytes is closed. Postfix and Sendmail write
    /// each command at once (at most about 100 KB); 10 s lets a 1 MiB frame cross a 1 Mbit/s link.</summary>
    public TimeSpan FrameTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Bytes all connections together may hold in incomplete frames above <see cref="SmallFrameSize"/>;
    /// past it a session waits (within its frame deadline) before reading more of such a frame.</summary>
    public long MaxBufferedBytes { get; set; } = 64L * 1024 * 1024;
    /// <summary>At this many connections a new one takes the place of the one that has waited longest for a
    /// command (at least <see cref="EvictAfter"/>); when none has, the new one is closed at once (counted,
    /// logged at a bounded rate).</summary>
    public int MaxConnections { get; set; } = 1000;
    /// <summary>Log lines per cause (bad frame, refused connection...) per <see cref="LogInterval"/>; the rest
    /// are counted and reported in one line.</summary>
    public int LogLinesPerInterval { get; set; } = 10;
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Frames up to this length (the pipe's segment size) are read without a reservation from the
    /// buffer budget: they cost at most MaxConnections times this.</summary>
    public const int SmallFrameSize = 64 * 1024;
    /// <summary>A connection waiting for its MTA this long can be evicted when the server is full (an MTA in an
    /// active session answers within milliseconds; a flood of idle connections waits far longer).</summary>
    public TimeSpan EvictAfter { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>While a handler call that the MTA waits on runs longer than this, SMFIR_PROGRESS is sent every interval.</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>A handler call longer than this is cancelled and answered with TEMPFAIL.</summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Mode of unix socket files (default 0660).</summary>
    public UnixFileMode UnixSocketMode { get; set; } = (UnixFileMode)0x1B0;
    /// <summary>How long <see cref="MilterServer.StopAsync"/> lets messages in flight finish before closing them.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (MaxFrameSize < 1024) throw new ArgumentOutOfRangeException(nameof(MaxFrameSize), MaxFrameSize, "must be at least 1024");
        if (MaxConnections < 1) throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "must be at least 1");
        if (MaxBufferedBytes < MaxFrameSize)
            throw new ArgumentOutOfRangeException(nameof(MaxBufferedBytes), MaxBufferedBytes, "must be at least MaxFrameSize");
        if (LogLinesPerInterval < 1) throw new ArgumentOutOfRangeException(nameof(LogLinesPerInterval), LogLinesPerInterval, "must be at least 1");
        CheckPositive(IdleTimeout, nameof(IdleTimeout));
        CheckFinite(FrameTimeout, nameof(FrameTimeout));
        CheckFinite(LogInterval, nameof(LogInterval));
        CheckFinite(EvictAfter, nameof(EvictAfter));
        CheckPositive(ProgressInterval, nameof(ProgressInterval));
        CheckPositive(HandlerTimeout, nameof(HandlerTimeout));
        if (DrainTimeout < TimeSpan.Zero || DrainTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(DrainTimeout), DrainTimeout, "must be from 0 to 24 days");
    }

    private static void CheckFinite(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(name, value, "must be positive and at most 24 days");
    }

    private static void CheckPositive(TimeSpan value, string name)
    {
        if (value == Timeout.InfiniteTimeSpan) return;
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(name, value, "must be positive and at most 24 days (or infinite)");
    }
}
