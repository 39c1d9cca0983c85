using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Filter;
using Milter.Protocol.Server;

namespace Milter.Hosting;

/// <summary>Runs the milter server for the lifetime of the host; on stop it drains sessions in flight.</summary>
internal sealed class MilterHostedService : IHostedService, IAsyncDisposable
{
    private readonly MilterOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly FilterServices _services;
    private MilterServer? _server;

    public MilterHostedService(MilterOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("milter");
        _services = new FilterServices(options, loggerFactory.CreateLogger("milter.filter"), TimeProvider.System);
    }

    public IReadOnlyList<System.Net.EndPoint> EndPoints => _server?.EndPoints ?? [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var s = _options.Server;
        ConfigLoader.TryParseMode(s.UnixSocketMode, out var mode);
        var serverOptions = new MilterServerOptions
        {
            MaxFrameSize = s.MaxFrameBytes,
            IdleTimeout = TimeSpan.FromSeconds(s.IdleTimeoutSeconds),
            HandlerTimeout = TimeSpan.FromSeconds(s.HandlerTimeoutSeconds),
            ProgressInterval = TimeSpan.FromSeconds(s.ProgressIntervalSeconds),
            MaxConnections = s.MaxConnections,
            UnixSocketMode = mode,
            DrainTimeout = TimeSpan.FromSeconds(s.DrainTimeoutSeconds),
        };
        _server = new MilterServer(serverOptions, () => new AuthFilter(_services), _loggerFactory);
        var specs = _options.Listen!.Select(ListenSpec.Parse).ToList();
        await _server.StartAsync(specs, cancellationToken);
        _logger.LogInformation("milter started: listening on {EndPoints}; authserv-id {AuthservId}; {Keys} signing key(s)",
            string.Join(", ", specs.Select(x => x.ToString())), _options.AuthservId, _options.Signing.Keys!.Length);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null) return;
        _logger.LogInformation("milter stopping: draining {Count} connection(s)", _server.ActiveConnections);
        await _server.StopAsync(cancellationToken);
        _logger.LogInformation("milter stopped");
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
