using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

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
