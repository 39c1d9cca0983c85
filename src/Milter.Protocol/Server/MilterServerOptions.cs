namespace Milter.Protocol.Server;

/// <summary>Limits and timers of the milter server (and of each session it runs).</summary>
public sealed class MilterServerOptions
{
    /// <summary>Largest accepted packet (length field: command byte plus data). A bigger one closes that connection.</summary>
    public int MaxFrameSize { get; set; } = 1024 * 1024;
    /// <summary>No command from the MTA for this long: close the connection.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Connections beyond this are closed at once, with a log line.</summary>
    public int MaxConnections { get; set; } = 1000;
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
        CheckPositive(IdleTimeout, nameof(IdleTimeout));
        CheckPositive(ProgressInterval, nameof(ProgressInterval));
        CheckPositive(HandlerTimeout, nameof(HandlerTimeout));
        if (DrainTimeout < TimeSpan.Zero || DrainTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(DrainTimeout), DrainTimeout, "must be from 0 to 24 days");
    }

    private static void CheckPositive(TimeSpan value, string name)
    {
        if (value == Timeout.InfiniteTimeSpan) return;
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException(name, value, "must be positive and at most 24 days (or infinite)");
    }
}
