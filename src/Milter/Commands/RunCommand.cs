using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Hosting;
using Milter.Keys;
using Milter.Reporting.Aggregate;

namespace Milter.Commands;

/// <summary>`milter run`: the daemon.</summary>
public static class RunCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        Hosting.InlineSocketCompletions.Enable();
        var configFile = cl.Get("config");
        var listen = cl.GetAll("listen");
        var dns = cl.Get("dns");

        var openDkimConfig = cl.Get("opendkim-config");
        var (options, warnings) = ConfigSources.Load(configFile, openDkimConfig, listen, dns);
        var reportsWarning = ReportStoreStartup.Prepare(options.Reports, ConfigLoader.SourceOf(configFile, "Reports:DataDirectory"));
        var keys = KeyStore.Load(options.Signing, TimeProvider.System);
        using var host = BuildHost(options, keys, new StartupArguments(configFile, listen, dns, openDkimConfig));
        var startupLog = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("milter.config");
        foreach (var warning in warnings) startupLog.LogWarning("{Warning}", warning);
        if (reportsWarning is not null)
            host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("milter.reports").LogWarning("{Warning}", reportsWarning);
        try
        {
            await host.StartAsync();
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("milter: " + e.Message);
            return Program.ExitUsage;
        }
        await host.WaitForShutdownAsync();
        return Program.ExitOk;
    }

    internal static IHost BuildHost(MilterOptions options, KeyStore keys, StartupArguments arguments)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var level = Enum.Parse<LogLevel>(options.LogLevel, ignoreCase: true);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(level);
        // A start-up failure is one line on stderr (below); the host's own report of it, with the stack trace, only at Debug.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", level <= LogLevel.Debug ? level : LogLevel.Critical);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.IncludeScopes = false;
        });
        // Under systemd only (its parent is systemd): READY=1/STOPPING=1 over NOTIFY_SOCKET and journald's
        // <N> priority prefix on log lines; elsewhere nothing changes.
        builder.Services.AddSystemd();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(arguments);
        builder.Services.AddSingleton<MilterHostedService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MilterHostedService>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.Server.DrainTimeoutSeconds + 5));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        return builder.Build();
    }
}
