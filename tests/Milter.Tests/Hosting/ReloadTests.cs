using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Hosting;
using Milter.Keys;
using Milter.TestKit;
using Milter.Tests.Reporting;

namespace Milter.Tests.Hosting;

/// <summary>The SIGHUP reload in process (<see cref="MilterHostedService.Reload"/>, what the signal handler runs).</summary>
public sealed class ReloadTests : IDisposable
{
    private readonly TempDir _dir = new("milter-reload");
    private readonly CollectingLogger<MilterHostedService> _log = new();

    private string WriteConfig(string dnsServers)
    {
        var path = _dir.File("milter.json");
        File.WriteAllText(path, $$"""{ "AuthservId": "mx.reload.test", "Reports": { "DataDirectory": "" }, "Dns": { "Servers": [{{dnsServers}}] } }""");
        return path;
    }

    private MilterHostedService Service(string configPath)
    {
        var options = ConfigLoader.Load(configPath, ["inet:1@127.0.0.1"], environment: false);
        return new MilterHostedService(options, KeyStore.Empty, new StartupArguments(configPath, ["inet:1@127.0.0.1"], null), new OneLoggerFactory(_log));
    }

    [Fact]
    public async Task A_failure_that_is_not_a_config_error_is_logged_on_one_line_and_the_running_config_is_kept()
    {
        var path = WriteConfig("\"127.0.0.1:53\"");
        await using var service = Service(path);

        // Seventeen resolvers: each one is valid, so the loader accepts them, but the resolver refuses more than 16
        // (an ArgumentException, not a ConfigException). Before the fix that escaped the reload task unlogged.
        WriteConfig(string.Join(',', Enumerable.Range(1, 17).Select(i => $"\"127.0.0.{i}:53\"")));
        service.Reload();

        var error = Assert.Single(_log.Entries, e => e.Level == LogLevel.Error);
        Assert.StartsWith("reload failed, keeping the running config: ArgumentException: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain(_log.Entries, e => e.Message.StartsWith("reload: config", StringComparison.Ordinal));

        // A good config afterwards is taken.
        WriteConfig("\"127.0.0.1:53\"");
        service.Reload();
        Assert.Contains(_log.Entries, e => e.Message == "reload: config and 0 signing key(s) loaded");
    }

    [Fact]
    public async Task A_changed_metrics_address_is_a_warning_that_a_restart_moves_it()
    {
        var path = WriteConfig("\"127.0.0.1:53\"");
        await using var service = Service(path);

        File.WriteAllText(path, """{ "AuthservId": "mx.reload.test", "Reports": { "DataDirectory": "" }, "Metrics": { "Listen": "http://127.0.0.1:9464/metrics" } }""");
        service.Reload();

        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning
            && e.Message == "reload: Metrics:Listen changed; restart milter to move the metrics endpoint");
        Assert.Contains(_log.Entries, e => e.Message == "reload: config and 0 signing key(s) loaded");
    }

    public void Dispose() => _dir.Dispose();
}
