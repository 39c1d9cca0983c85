using Microsoft.Extensions.Logging;

namespace Milter.Tests.Hosting;

/// <summary>A logger factory whose every category writes to one logger (a CollectingLogger in the tests).</summary>
internal sealed class OneLoggerFactory(ILogger logger) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => logger;
    public void AddProvider(ILoggerProvider provider) { }
    public void Dispose() { }
}
