using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Milter.Tests.Reporting;

/// <summary>An ILogger that keeps every line; optionally runs a hook on each entry (to hold the caller).</summary>
internal sealed class CollectingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

    public Action<LogLevel>? OnLog { get; set; }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        Entries.Enqueue((logLevel, formatter(state, exception), exception));
        OnLog?.Invoke(logLevel);
    }

    public int Count(LogLevel level) => Entries.Count(e => e.Level == level);
}
