using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Milter.Metrics;

/// <summary>
/// The Prometheus scrape endpoint (Metrics:Listen): a small HTTP/1.1 server on one TCP address that answers
/// <c>GET PATH</c> with <see cref="PrometheusCollector.Render"/> and closes the connection. Anything else gets 404 or
/// 405; a request head must arrive whole (at most 8 KiB) within 2 seconds and the answer be taken within 10; at most
/// 4 requests are served at once (more are closed at once), so a scraper gone wrong cannot take the daemon's threads or
/// memory, and a client that connects and sends nothing holds a slot for 2 seconds only.
/// </summary>
internal sealed class MetricsEndpoint : IAsyncDisposable
{
    private const int MaxRequestHead = 8 * 1024;
    private const int MaxConcurrent = 4;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    /// <summary>A scraper sends its request at once; a client silent for this long is closed, giving its slot back.</summary>
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(2);

    private readonly MetricsListenAddress _address;
    private readonly PrometheusCollector _collector;
    private readonly ILogger _logger;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConcurrent, MaxConcurrent);
    private Task _acceptLoop = Task.CompletedTask;

    private MetricsEndpoint(MetricsListenAddress address, PrometheusCollector collector, ILogger logger)
    {
        _address = address;
        _collector = collector;
        _logger = logger;
        _listener = new TcpListener(address.Address, address.Port);
    }

    /// <summary>Binds <paramref name="address"/> and serves the metrics of <paramref name="metrics"/>; an address that
    /// cannot be bound (in use, not on this host) is an <see cref="IOException"/> naming it.</summary>
    public static MetricsEndpoint Start(MetricsListenAddress address, MilterMetrics metrics, ILogger logger)
    {
        var collector = new PrometheusCollector(metrics.Meter);
        var endpoint = new MetricsEndpoint(address, collector, logger);
        try
        {
            endpoint._listener.Start();
        }
        catch (SocketException e)
        {
            collector.Dispose();
            endpoint._stop.Dispose();
            endpoint._slots.Dispose();
            throw new IOException($"cannot listen on Metrics:Listen {address}: {e.Message}", e);
        }
        endpoint._acceptLoop = Task.Run(endpoint.AcceptLoopAsync);
        logger.LogInformation("metrics: serving Prometheus metrics on {Address}", address);
        return endpoint;
    }

    /// <summary>The bound end point.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stop.IsCancellationRequested) return;
                _logger.LogDebug("metrics: accept failed: {Message}", e.Message);
                continue;
            }
            if (!_slots.Wait(0))
            {
                socket.Dispose();
                continue;
            }
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(HeadTimeout);
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            var head = await ReadHeadAsync(stream, timeout.Token);
            timeout.CancelAfter(RequestTimeout);
            var (status, body, contentType) = Answer(head);
            var bytes = Encoding.UTF8.GetBytes(body);
            var header = $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(header), timeout.Token);
            await stream.WriteAsync(bytes, timeout.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The scraper went away or was too slow: nothing to answer.
        }
        catch (Exception e)
        {
            _logger.LogError(e, "metrics: request failed");
        }
        finally
        {
            // A request still in flight after DisposeAsync gave up waiting for it (RequestTimeout) finds the
            // semaphore disposed: nothing is left to give the slot back to.
            try { _slots.Release(); } catch (ObjectDisposedException) { }
        }
    }

    /// <summary>The request head up to the empty line, or null when it is larger than <see cref="MaxRequestHead"/>
    /// or the connection ends first.</summary>
    private static async Task<string?> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestHead];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (n == 0) return null;
            length += n;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return Encoding.ASCII.GetString(buffer, 0, end);
        }
        return null;
    }

    private (string Status, string Body, string ContentType) Answer(string? head)
    {
        const string plain = "text/plain; charset=utf-8";
        var requestLine = head?.Split("\r\n", 2)[0].Split(' ');
        if (requestLine is not { Length: 3 } || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return ("400 Bad Request", "bad request\n", plain);
        if (requestLine[0] != "GET")
            return ("405 Method Not Allowed", "only GET\n", plain);
        var target = requestLine[1];
        var query = target.IndexOf('?', StringComparison.Ordinal);
        if ((query < 0 ? target : target[..query]) != _address.Path)
            return ("404 Not Found", $"metrics are at {_address.Path}\n", plain);
        return ("200 OK", _collector.Render(), PrometheusCollector.ContentType);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        // Requests in flight were cancelled with _stop: wait (bounded) until each has given its slot back.
        for (var i = 0; i < MaxConcurrent; i++)
            await _slots.WaitAsync(RequestTimeout);
        _collector.Dispose();
        _stop.Dispose();
        _slots.Dispose();
    }
}
