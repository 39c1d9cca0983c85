using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Filter;
using Milter.Keys;
using Milter.Keys.Rotation;
using Milter.Metrics;
using Milter.Protocol.Server;
using Milter.Reporting;
using Milter.Reporting.Aggregate;

namespace Milter.Hosting;

/// <summary>How the daemon was started, so a reload (SIGHUP) reads the same sources again.</summary>
internal sealed record StartupArguments(string? ConfigFile, IReadOnlyList<string> Listen, string? Dns, string? OpenDkimConfig = null);

/// <summary>Runs the milter server for the lifetime of the host; on stop it drains sessions in flight.
/// SIGHUP reloads config and keys without dropping sessions (a bad new config is logged and the old one kept).</summary>
internal sealed class MilterHostedService : IHostedService, IAsyncDisposable
{
    private readonly MilterOptions _options;
    private readonly StartupArguments _arguments;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly FilterServicesHolder _holder;
    private readonly VerificationLog? _verificationLog;
    private readonly DmarcReportStore? _reportStore;
    private readonly MilterMetrics _metrics = new();
    private MetricsEndpoint? _metricsEndpoint;
    private MilterServer? _server;
    private PosixSignalRegistration? _sighup;
    private readonly Lock _reloadLock = new();
    private readonly KeyRotation _rotation;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _rotationLoop;

    public MilterHostedService(MilterOptions options, KeyStore keys, StartupArguments arguments, ILoggerFactory loggerFactory)
    {
        _options = options;
        _arguments = arguments;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("milter");
        if (!string.IsNullOrWhiteSpace(options.ReportLog.Path))
        {
            _verificationLog = new VerificationLog(new VerificationLogOptions { Path = options.ReportLog.Path },
                loggerFactory.CreateLogger<VerificationLog>(), TimeProvider.System);
        }
        _reportStore = OpenReportStore(options, loggerFactory);
        if (_verificationLog is { } log) _metrics.ObserveQueue("verification_log", () => log.QueueDepth, () => log.DroppedCount);
        if (_reportStore is { } store) _metrics.ObserveQueue("report_store", () => store.QueueDepth, () => store.DroppedCount);
        // The rotation state file (key-rotation.json in the data directory) overrides the configured keys it rotates.
        _rotation = new KeyRotation(RotationStateFile.For(options.Reports), keys, options.Signing, loggerFactory.CreateLogger("milter.rotation"), TimeProvider.System);
        _rotation.Refresh();
        _holder = new FilterServicesHolder(NewServices(options, _rotation.Effective));
    }

    /// <summary>Every Signing:Rotation:CheckIntervalSeconds: reads the rotation state, looks up the pending records on every
    /// resolver (no lock held), then records what it saw and switches keys under the reload lock (a reload and a switch
    /// never overwrite each other). Sessions keep their snapshot; the next message takes the new keys.</summary>
    private async Task RotationLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var options = _holder.Current.Options;
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(options.Signing.Rotation.CheckIntervalSeconds), ct);
                var seen = await _rotation.ObserveAsync(RotationDns.Resolvers(options), timeoutMs: 15_000);
                ct.ThrowIfCancellationRequested();
                lock (_reloadLock)
                {
                    var current = _holder.Current;
                    _rotation.Advance(seen, current.Options.Signing.Rotation, keys => _holder.Current = current.WithKeys(keys));
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogError("key rotation check failed: {Type}: {Message}", e.GetType().Name, OneLine(e.Message));
            }
        }
    }

    private FilterServices NewServices(MilterOptions options, KeyStore keys)
        => new(options, keys, _loggerFactory.CreateLogger("milter.filter"), TimeProvider.System, _verificationLog, reportStore: _reportStore, metrics: _metrics);

    /// <summary>The DMARC evaluation store for aggregate reports, or null when it is off. The directory was made and checked
    /// at start-up (<see cref="ReportDataDirectory.Prepare"/>: one line and exit 2, or "" with one warning when optional).</summary>
    private static DmarcReportStore? OpenReportStore(MilterOptions options, ILoggerFactory loggerFactory)
    {
        return ReportStoreLocation.From(options.Reports) is { } location
            ? new DmarcReportStore(location, loggerFactory.CreateLogger("milter.reports"), TimeProvider.System,
                new DmarcReportStoreOptions { RetentionDays = options.Reports.RetentionDays, Capacity = options.Reports.QueueCapacity })
            : null;
    }

    public IReadOnlyList<System.Net.EndPoint> EndPoints => _server?.EndPoints ?? [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var s = _options.Server;
        // Validated with the config; a mode that slipped through must not become 0000 (a socket nobody can open).
        if (!ConfigLoader.TryParseMode(s.UnixSocketMode, out var mode))
            throw new ConfigException("Server:UnixSocketMode", s.UnixSocketMode, "expected an octal file mode such as 0660");
        var serverOptions = new MilterServerOptions
        {
            MaxFrameSize = s.MaxFrameBytes,
            IdleTimeout = TimeSpan.FromSeconds(s.IdleTimeoutSeconds),
            FrameTimeout = TimeSpan.FromSeconds(s.FrameTimeoutSeconds),
            MaxBufferedBytes = s.MaxBufferedBytes,
            HandlerTimeout = TimeSpan.FromSeconds(s.HandlerTimeoutSeconds),
            ProgressInterval = TimeSpan.FromSeconds(s.ProgressIntervalSeconds),
            MaxConnections = s.MaxConnections,
            UnixSocketMode = mode,
            DrainTimeout = TimeSpan.FromSeconds(s.DrainTimeoutSeconds),
        };
        // Before the milter sockets: an endpoint that cannot listen stops start-up before any mail is taken.
        if (MetricsListenAddress.TryParse(_options.Metrics.Listen, out var metricsAddress, out _))
            _metricsEndpoint = MetricsEndpoint.Start(metricsAddress, _metrics, _loggerFactory.CreateLogger("milter.metrics"));
        _server = new MilterServer(serverOptions, () => new AuthFilter(_holder), _loggerFactory);
        var specs = _options.Listen!.Select(ListenSpec.Parse).ToList();
        await _server.StartAsync(specs, cancellationToken);
        var server = _server;
        _metrics.ObserveConnections(() => server.ActiveConnections);
        if (!OperatingSystem.IsWindows())
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSighup);
        _rotationLoop = Task.Run(() => RotationLoopAsync(_stopping.Token), CancellationToken.None);
        _logger.LogInformation("milter started: listening on {EndPoints}; authserv-id {AuthservId}; {Keys} signing key(s); verification log {Log}; DMARC report store {Store}",
            string.Join(", ", specs.Select(x => x.ToString())), _options.AuthservId, _holder.Current.Keys.Count,
            string.IsNullOrWhiteSpace(_options.ReportLog.Path) ? "off" : _options.ReportLog.Path,
            _reportStore is null ? "off" : _reportStore.Location.Description);
    }

    private void OnSighup(PosixSignalContext context)
    {
        context.Cancel = true; // do not terminate
        // Off the signal thread; Reload never throws, so nothing is left unobserved.
        _ = Task.Run(Reload);
    }

    /// <summary>Reads the config and keys again; sessions in flight keep their snapshot. Never throws: any failure
    /// (a config error, or anything else building the new snapshot) is one error line and the running config stays.
    /// Reloads run one at a time, so a slow one cannot overwrite a later one's result.</summary>
    internal void Reload()
    {
        lock (_reloadLock)
            ReloadCore();
    }

    private void ReloadCore()
    {
        try
        {
            // The same sources as at start: the JSON config, or the OpenDKIM files (opendkim.conf and its tables).
            var (options, warnings) = ConfigSources.Load(_arguments.ConfigFile, _arguments.OpenDkimConfig, _arguments.Listen, _arguments.Dns);
            foreach (var warning in warnings) _logger.LogWarning("reload: {Warning}", warning);
            var configured = KeyStore.Load(options.Signing, TimeProvider.System);
            if (!options.Listen!.SequenceEqual(_options.Listen!))
                _logger.LogWarning("reload: Listen changed; restart milter to listen on the new sockets");
            if (options.Metrics.Listen != _options.Metrics.Listen)
                _logger.LogWarning("reload: Metrics:Listen changed; restart milter to move the metrics endpoint");
            var services = NewServices(options, configured);
            // The rotation state applies again over the new config: a reload never undoes a switch.
            _holder.Current = services.WithKeys(_rotation.Rebase(configured, options.Signing));
            _verificationLog?.Reopen();
            _logger.LogInformation("reload: config and {Keys} signing key(s) loaded", configured.Count);
        }
        catch (ConfigException e)
        {
            _logger.LogError("reload failed, keeping the running config: {Message}", e.Message);
        }
        catch (Exception e)
        {
            // Not a config error the loader names: say what it was, on one line (no stack trace, no key material).
            _logger.LogError("reload failed, keeping the running config: {Type}: {Message}", e.GetType().Name, OneLine(e.Message));
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private async Task StopRotationAsync()
    {
        if (!_stopping.IsCancellationRequested) await _stopping.CancelAsync();
        if (_rotationLoop is not null) await _rotationLoop;
        _rotationLoop = null;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _sighup?.Dispose();
        await StopRotationAsync();
        if (_server is null) return;
        _logger.LogInformation("milter stopping: draining {Count} connection(s)", _server.ActiveConnections);
        await _server.StopAsync(cancellationToken);
        if (_verificationLog is not null) await _verificationLog.DisposeAsync();
        if (_reportStore is not null) await _reportStore.DisposeAsync();
        if (_metricsEndpoint is not null) await _metricsEndpoint.DisposeAsync();
        _logger.LogInformation("milter stopped");
    }

    public async ValueTask DisposeAsync()
    {
        _sighup?.Dispose();
        await StopRotationAsync();
        _stopping.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        if (_verificationLog is not null) await _verificationLog.DisposeAsync();
        if (_reportStore is not null) await _reportStore.DisposeAsync();
        if (_metricsEndpoint is not null) await _metricsEndpoint.DisposeAsync();
        _metrics.Dispose();
    }
}
