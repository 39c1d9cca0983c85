using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Milter.Protocol.Session;

namespace Milter.Protocol.Server;

/// <summary>
/// Listens on inet/inet6/unix sockets and runs one <see cref="MilterSession"/> per accepted connection,
/// with a fresh handler from the factory. One bad connection never affects another.
/// </summary>
public sealed class MilterServer : IAsyncDisposable
{
    /// <summary>Connections the kernel queues before accept (capped by net.core.somaxconn). A burst larger than
    /// the queue makes the kernel drop SYNs, and an MTA connecting then waits a 1 s SYN retransmission: with 512,
    /// a flood of a few hundred connections on a busy 2-core machine delayed a normal session by that second.</summary>
    private const int ListenBacklog = 4096;
    /// <summary>Zero-byte reads: an idle connection waits for data without a buffer and rents one only when bytes
    /// arrive (a 64 KB buffer held per idle connection put 1,000 idle connections at ~115 MB RSS). One instance
    /// for every connection.</summary>
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 64 * 1024, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true);
    private readonly MilterServerOptions _options;
    private readonly Func<IMilterHandler> _handlerFactory;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ILogger _sessionLogger;
    private readonly List<Listener> _listeners = [];
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly CancellationTokenSource _acceptCts = new();
    private readonly List<Task> _acceptLoops = [];
    private readonly BufferBudget _budget;
    private readonly LogRateLimiter _logLimiter;
    private readonly FloodMemoryRelief _memoryRelief;
    private long _nextConnectionId;
    private long _refused;
    private long _evicted;
    private int _active;
    private volatile bool _draining;
    private bool _started;
    private Task? _stopTask;

    public MilterServer(MilterServerOptions options, Func<IMilterHandler> handlerFactory, ILoggerFactory loggerFactory)
    {
        options.Validate();
        // A command without one consistent row in the session table stops the program here, not at the first connection.
        RuntimeHelpers.RunClassConstructor(typeof(CommandTable).TypeHandle);
        _options = options;
        _handlerFactory = handlerFactory;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Milter.Protocol.Server");
        _sessionLogger = loggerFactory.CreateLogger("Milter.Protocol.Session");
        _budget = new BufferBudget(options.MaxBufferedBytes);
        _logLimiter = new LogRateLimiter(_logger, options.LogLinesPerInterval, options.LogInterval);
        _memoryRelief = new FloodMemoryRelief(() => ActiveConnections, _budget, _logger, TimeSpan.FromSeconds(10));
    }

    /// <summary>The bound endpoints, in the order of the specs (port 0 resolved).</summary>
    public IReadOnlyList<EndPoint> EndPoints => _listeners.Select(l => l.EndPoint).ToList();

    public int ActiveConnections => Volatile.Read(ref _active);

    /// <summary>Connections closed at once because <see cref="MilterServerOptions.MaxConnections"/> were open
    /// and none could be evicted.</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>Connections closed to make room for a new one (the one waiting longest for its MTA).</summary>
    public long EvictedConnections => Interlocked.Read(ref _evicted);

    /// <summary>Bytes reserved now by incomplete large frames, across all connections.</summary>
    public long BufferedBytes => _budget.InUse;

    /// <summary>Binds every spec, or none: on failure the ones already bound are closed and an
    /// <see cref="IOException"/> naming the spec is thrown.</summary>
    public Task StartAsync(IEnumerable<ListenSpec> listen, CancellationToken cancellationToken)
    {
        if (_started) throw new InvalidOperationException("the server was already started");
        _started = true;
        foreach (var spec in listen)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                _listeners.Add(Bind(spec));
            }
            catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                foreach (var l in _listeners) l.Close();
                _listeners.Clear();
                throw new IOException($"cannot listen on {spec}: {ex.Message}", ex);
            }
        }
        if (_listeners.Count == 0) throw new ArgumentException("no socket to listen on", nameof(listen));
        foreach (var l in _listeners)
        {
            _logger.LogInformation("listening on {Spec} ({EndPoint})", l.Spec, l.EndPoint);
            _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(l), CancellationToken.None));
        }
        return Task.CompletedTask;
    }

    private Listener Bind(ListenSpec spec)
    {
        if (spec.Kind == ListenKind.Unix) return BindUnix(spec);
        var address = ResolveAddress(spec);
#pragma warning disable CA2000 // disposed by the catch below, else owned by the returned Listener
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
#pragma warning restore CA2000
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            // No SO_REUSEPORT: a second server on the same port must fail, not share it. (.NET sets
            // SO_REUSEADDR on Unix by itself, so a restart does not trip over TIME_WAIT.)
            socket.Bind(new IPEndPoint(address, spec.Port));
            socket.Listen(ListenBacklog);
            return new Listener(spec, socket, null);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static IPAddress ResolveAddress(ListenSpec spec)
    {
        var family = spec.Kind == ListenKind.Inet ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (spec.Host is null) return family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any;
        if (IPAddress.TryParse(spec.Host, out var ip))
        {
            if (ip.AddressFamily != family) throw new ArgumentException($"{spec.Host} is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
            return ip;
        }
        return Dns.GetHostAddresses(spec.Host).FirstOrDefault(a => a.AddressFamily == family)
            ?? throw new IOException($"host {spec.Host} has no {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
    }

    private Listener BindUnix(ListenSpec spec)
    {
        var path = Path.GetFullPath(spec.Path!);
        if (File.Exists(path) || Directory.Exists(path))
        {
            if (UnixSocketFile.IsSocket(path) != true)
                throw new IOException($"{path} exists and is not a socket; not replacing it");
            if (IsListening(path)) throw new IOException($"another process is listening on {path}");
            File.Delete(path);
            _logger.LogInformation("replaced stale socket {Path}", path);
        }
#pragma warning disable CA2000 // disposed by the catch below, else owned by the returned Listener
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
#pragma warning restore CA2000
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, _options.UnixSocketMode);
            socket.Listen(ListenBacklog);
            return new Listener(spec, socket, path);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static bool IsListening(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task AcceptLoopAsync(Listener listener)
    {
        var token = _acceptCts.Token;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.Socket.AcceptAsync(token);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                _logger.LogWarning("accept on {Spec} failed: {Message}", listener.Spec, ex.Message);
                try { await Task.Delay(100, token); } catch (OperationCanceledException) { return; }
                continue;
            }

            if (Interlocked.Increment(ref _active) > _options.MaxConnections && !EvictOne())
            {
                Interlocked.Decrement(ref _active);
                var total = Interlocked.Increment(ref _refused);
                if (_logLimiter.Allow("connection refused"))
                    _logger.LogWarning("connection from {Remote} on {Spec} refused: {Max} connections already open ({Total} refused so far)",
                        RemoteOf(socket), listener.Spec, _options.MaxConnections, total);
                socket.Dispose();
                continue;
            }
            _memoryRelief.Observe(ActiveConnections);
            var connection = new Connection(Interlocked.Increment(ref _nextConnectionId), socket);
            _connections[connection.Id] = connection;
            // Started here, not through Task.Run: it runs until its first read waits (usually right after
            // OPTNEG), then this loop accepts the next one. A hand-off to a pool thread per connection cost a
            // thread wake-up and a context switch on every SMTP session (issue 16: cost per connection).
            connection.Task = RunConnectionAsync(connection, listener.Spec);
        }
    }

    /// <summary>When full, closes the connection that has waited longest for its MTA (an idle or trickling
    /// one, never one whose command is being handled), if it has waited at least
    /// <see cref="MilterServerOptions.EvictAfter"/>; its slot goes to the new connection. What that MTA sees is
    /// the connection closed between commands, as after an idle timeout. False when none qualifies.</summary>
    private bool EvictOne()
    {
        var oldest = long.MaxValue;
        Connection? victim = null;
        foreach (var c in _connections.Values)
        {
            if (c.Evicted || c.Session is not { } session) continue;
            var since = session.WaitingSince;
            if (since < oldest)
            {
                oldest = since;
                victim = c;
            }
        }
        if (victim is null || TimeProvider.System.GetElapsedTime(oldest) < _options.EvictAfter) return false;
        victim.Evicted = true;
        var total = Interlocked.Increment(ref _evicted);
        if (_logLimiter.Allow("connection evicted"))
            _logger.LogWarning("conn {Id}: closed to make room ({Max} connections open; it waited {Waited:F0} s for its MTA; {Total} evicted so far)",
                victim.Id, _options.MaxConnections, TimeProvider.System.GetElapsedTime(oldest).TotalSeconds, total);
        try { victim.Cancellation.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    private async Task RunConnectionAsync(Connection connection, ListenSpec spec)
    {
        var socket = connection.Socket;
        IMilterHandler? handler = null;
        try
        {
            var tcp = spec.Kind != ListenKind.Unix;
            if (tcp) socket.NoDelay = true;
            await using var stream = new MilterNetworkStream(socket, quickAck: tcp);
            var reader = PipeReader.Create(stream, ReaderOptions);
            handler = _handlerFactory();
            using var session = new MilterSession(handler, reader, stream, _options, _sessionLogger, connection.Id, _budget, _logLimiter);
            connection.Session = session;
            if (_draining) session.RequestDrain();
            // Guarded: the peer address is a getpeername call and a string, and the arguments are boxed, per connection.
            if (_logger.IsEnabled(LogLevel.Debug))
                _logger.LogDebug("conn {Id}: accepted from {Remote} on {Spec}", connection.Id, RemoteOf(socket), spec);
            await session.RunAsync(connection.Cancellation.Token);
        }
        catch (Exception ex)
        {
            if (_logLimiter.Allow("connection failed"))
                _logger.LogError(ex, "conn {Id}: failed", connection.Id);
        }
        finally
        {
            connection.Session = null;
            socket.Dispose();
            await DisposeHandlerAsync(handler, connection.Id);
            _connections.TryRemove(connection.Id, out _);
            Interlocked.Decrement(ref _active);
            connection.Cancellation.Dispose();
        }
    }

    private static string RemoteOf(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint?.ToString() ?? "local";
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return "unknown";
        }
    }

    private async ValueTask DisposeHandlerAsync(IMilterHandler? handler, long id)
    {
        try
        {
            if (handler is IAsyncDisposable ad) await ad.DisposeAsync();
            else if (handler is IDisposable d) d.Dispose();
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "conn {Id}: handler dispose failed", id);
        }
    }

    /// <summary>Stops accepting, lets messages in flight finish (up to DrainTimeout; idle sessions close at
    /// once), then closes the rest and deletes the unix socket files. Safe to call more than once.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _stopTask ??= StopCoreAsync(cancellationToken);

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        _acceptCts.Cancel();
        foreach (var l in _listeners) l.Socket.Dispose();
        await Task.WhenAll(_acceptLoops);

        foreach (var c in _connections.Values) c.Session?.RequestDrain();
        var all = Task.WhenAll(_connections.Values.Select(c => c.Task ?? Task.CompletedTask));
        try
        {
            await all.WaitAsync(_options.DrainTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            _logger.LogWarning("drain timeout: closing {Count} session(s) still in flight", _connections.Count);
            foreach (var c in _connections.Values)
            {
                try { c.Cancellation.Cancel(); } catch (ObjectDisposedException) { }
            }
            await all.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var c in _connections.Values) c.Socket.Dispose();
        }
        foreach (var l in _listeners) l.Close();
        _logger.LogInformation("milter server stopped");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _acceptCts.Dispose();
        _memoryRelief.Dispose();
        _logLimiter.Dispose();
    }

    private sealed class Listener(ListenSpec spec, Socket socket, string? unixPath)
    {
        public ListenSpec Spec { get; } = spec;
        public Socket Socket { get; } = socket;
        /// <summary>Kept from bind time: still readable after the socket is closed.</summary>
        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public void Close()
        {
            Socket.Dispose();
            if (unixPath is null) return;
            try
            {
                if (UnixSocketFile.IsSocket(unixPath) == true) File.Delete(unixPath);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private sealed class Connection(long id, Socket socket)
    {
        public long Id { get; } = id;
        public Socket Socket { get; } = socket;
        public CancellationTokenSource Cancellation { get; } = new();
        public volatile MilterSession? Session;
        public volatile bool Evicted;
        public Task? Task;
    }
}
