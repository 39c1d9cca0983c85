using Milter.Protocol.Client;
using Milter.Protocol.Server;

namespace Milter.Commands;

/// <summary>`milter health --connect SPEC`: exit 0 when a full option negotiation succeeds within the timeout.</summary>
public static class HealthCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        // Without --connect: the first Listen spec of --config (or of the embedded default).
        var configFile = cl.Get("config");
        var specText = cl.Get("connect") ?? Configuration.ConfigLoader.Load(configFile).Listen![0];
        var timeoutMs = cl.GetInt("timeout-ms", 5000, 100, 600_000);
        if (!ListenSpec.TryParse(specText, out var spec, out var error))
            throw new UsageException($"health: --connect {specText}: {error}");
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            await using var client = await MilterClient.ConnectAsync(spec!, TimeSpan.FromMilliseconds(timeoutMs), cts.Token);
            var negotiated = await client.NegotiateAsync(ct: cts.Token);
            Console.Out.WriteLine($"ok: {spec} negotiated protocol version {negotiated.Version}");
            await client.QuitAsync(cts.Token);
            return Program.ExitOk;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or TimeoutException or InvalidDataException)
        {
            Console.Out.WriteLine($"unhealthy: {spec}: {e.Message}");
            return Program.ExitCheckFailed;
        }
    }
}
