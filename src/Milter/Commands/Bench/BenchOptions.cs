using System.Net;
using Milter.Protocol.Server;

namespace Milter.Commands.Bench;

internal enum BenchMode
{
    Sign,
    Verify,
}

/// <summary>What `milter bench` was asked to do, validated.</summary>
internal sealed record BenchOptions
{
    public required ListenSpec Connect { get; init; }
    public required BenchMode Mode { get; init; }
    public required int Messages { get; init; }
    public required int Concurrency { get; init; }
    public required int Size { get; init; }
    public int Warmup { get; init; }
    /// <summary>Messages per connection before it is closed and a new one opened; 0 means no limit.</summary>
    public int PerConnection { get; init; }
    public required IPAddress ClientIp { get; init; }
    public required string Helo { get; init; }
    public required TimeSpan Timeout { get; init; }
    public bool Json { get; init; }
}
