using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Milter.TestKit.Peers;

/// <summary>
/// Debian's Prometheus (/usr/bin/prometheus, package prometheus) started for one test: its own config and data
/// directory, its web API on a free loopback port, scraping one loopback target every second. Stopped by PID.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";
    public const string Job = "milter";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDir _dir;
    private readonly BackgroundProcess _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private PrometheusServer(TempDir dir, BackgroundProcess process, int port)
    {
        _dir = dir;
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public string Output => _process.Output;

    /// <summary>Starts Prometheus scraping <c>http://<paramref name="target"/><paramref name="metricsPath"/></c> (target as
    /// 127.0.0.1:PORT) and waits until its API is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(string target, string metricsPath)
    {
        var binary = ProcessRunner.Require(Binary, "prometheus");
        var dir = new TempDir("prometheus");
        var port = FreePort.Next();
        var config = dir.File("prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: {Job}
                metrics_path: {metricsPath}
                static_configs:
                  - targets: ['{target}']
            """);
        Directory.CreateDirectory(dir.File("data"));
        var process = BackgroundProcess.Start(binary,
        [
            $"--config.file={config}", $"--storage.tsdb.path={dir.File("data")}", $"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h", "--log.level=warn",
        ]);
        var server = new PrometheusServer(dir, process, port);
        try
        {
            await server.WaitReadyAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"prometheus exited during start-up (code {_process.ExitCode}):\n{Output}");
            try
            {
                using var ready = await _http.GetAsync($"http://127.0.0.1:{Port}/-/ready");
                if (ready.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // slow machine: ask again
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"prometheus was not ready within {StartTimeout}:\n{Output}");
    }

    /// <summary>The instant vector of a PromQL query (HTTP API /api/v1/query): each series' labels and value.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string promql)
    {
        var url = $"http://127.0.0.1:{Port}/api/v1/query?query={Uri.EscapeDataString(promql)}";
        using var response = await _http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        if (root.GetProperty("status").GetString() != "success")
            throw new InvalidOperationException($"prometheus query {promql} failed: {body}");
        var data = root.GetProperty("data");
        if (data.GetProperty("resultType").GetString() != "vector")
            throw new InvalidOperationException($"prometheus query {promql}: not a vector: {body}");
        return data.GetProperty("result").EnumerateArray().Select(r => (
            (IReadOnlyDictionary<string, string>)r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? ""),
            double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture))).ToList();
    }

    /// <summary>Queries until <paramref name="promql"/> gives one series with <paramref name="expected"/> (bounded by
    /// <paramref name="timeout"/>); returns the last result, whatever it was.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> WaitForValueAsync(string promql, double expected,
        TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var result = await QueryAsync(promql);
            if ((result.Count == 1 && result[0].Value == expected) || DateTime.UtcNow > deadline) return result;
            await Task.Delay(500);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _http.Dispose();
        _dir.Dispose();
    }
}
