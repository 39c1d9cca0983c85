using System.Net;
using System.Net.Sockets;
using Milter.Commands.Bench;
using Milter.MailAuth.Dkim;
using Milter.Protocol.Server;
using Milter.Shared;

namespace Milter.Commands;

/// <summary>
/// `milter bench --connect SPEC --messages N --concurrency C --size BYTES --mode sign|verify [--json]`: a milter
/// load client playing Postfix. Sign mode sends from an internal client address (127.0.0.1) with From
/// bench@--domain; verify mode pre-signs every message once with --key/--selector/--domain (the filter
/// resolves that key through its own DNS) and sends from a non-local address (192.0.2.1). `--eml-dir DIR`
/// sends the .eml files of DIR instead of generated messages. `--arc-hops N` (verify mode) adds N ARC sets to each
/// pre-signed message, sealed with the same key (<see cref="BenchArcSealing"/>). Progress goes to stderr (<see cref="BenchProgressWriter"/>).
/// Exit 0 when no message met an error, 1 otherwise.
/// </summary>
public static class BenchCommand
{
    public const int MaxMessages = 100_000_000;
    public const int MaxConcurrency = 1024;
    public const int MaxSize = 64 * 1024 * 1024;

    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        Hosting.InlineSocketCompletions.Enable();
        var specText = cl.Require("connect");
        if (!ListenSpec.TryParse(specText, out var spec, out var specError))
            throw new UsageException($"bench: --connect {specText}: {specError}");
        var modeText = cl.Get("mode") ?? "sign";
        var mode = modeText switch
        {
            "sign" => BenchMode.Sign,
            "verify" => BenchMode.Verify,
            _ => throw new UsageException($"bench: --mode must be sign or verify, not '{modeText}'"),
        };
        var messages = cl.GetInt("messages", 1000, 1, MaxMessages);
        var concurrency = cl.GetInt("concurrency", 1, 1, MaxConcurrency);
        var size = cl.GetInt("size", 2048, 256, MaxSize);
        var warmup = cl.GetInt("warmup", 0, 0, MaxMessages);
        var perConnection = cl.GetInt("per-connection", 0, 0, MaxMessages);
        var timeoutMs = cl.GetInt("timeout-ms", 30_000, 100, 600_000);
        var emlDir = cl.Get("eml-dir");
        var domainText = cl.Get("domain");
        var keyPath = cl.Get("key");
        var selectorText = cl.Get("selector");
        var clientIpText = cl.Get("client-ip") ?? (mode == BenchMode.Sign ? "127.0.0.1" : "192.0.2.1");
        var helo = cl.Get("helo") ?? "client.bench.example";
        var json = cl.Flag("json");
        var progressSeconds = cl.GetInt("progress", 5, 0, 3600);
        var arcHops = cl.GetInt("arc-hops", 0, 0, BenchArcSealing.MaxHops);

        if (!IpAddressText.TryParse(clientIpText, out var clientIp) || clientIp.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            throw new UsageException($"bench: --client-ip '{clientIpText}' is not an IP address");
        if (keyPath is not null && mode == BenchMode.Sign)
            throw new UsageException("bench: --key is for --mode verify (sign mode leaves signing to the filter)");
        if (mode == BenchMode.Verify && keyPath is null && emlDir is null)
            throw new UsageException("bench: --mode verify needs --key FILE --selector S --domain D to pre-sign the messages");
        // --key needs --domain and --selector (checked like `milter sign` does); otherwise --domain is the From domain.
        DkimKeyArguments? names = keyPath is not null ? DkimKeyArguments.Read(cl) : null;
        var domain = names?.Domain ?? domainText?.Trim().TrimEnd('.').ToLowerInvariant();
        if (emlDir is null && domain is null)
            throw new UsageException("bench: --domain is required (the From domain of the generated messages)");
        if (domain is not null && (domain.Length == 0 || domain.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))))
            throw new UsageException($"bench: --domain '{domainText}' is not a domain name");
        if (arcHops > 0 && keyPath is null)
            throw new UsageException("bench: --arc-hops needs --key FILE --selector S --domain D (verify mode): the seals use that key");
        if (selectorText is not null && keyPath is null)
            throw new UsageException("bench: --selector is for --key (verify mode)");

        var options = new BenchOptions
        {
            Connect = spec!,
            Mode = mode,
            Messages = messages,
            Concurrency = concurrency,
            Size = size,
            Warmup = warmup,
            PerConnection = perConnection,
            ClientIp = clientIp,
            Helo = helo,
            Timeout = TimeSpan.FromMilliseconds(timeoutMs),
            Json = json,
        };
        var fallbackDomain = domain ?? "bench.example";
        var raw = emlDir is not null ? BenchMessages.ReadEmlDirectory(emlDir)
            : BenchMessages.Generate(domain!, size, Math.Min(messages, BenchMessages.PoolSize));
        if (keyPath is not null) raw = PreSign(raw, keyPath, names!);
        if (arcHops > 0) raw = BenchArcSealing.SealAll(raw, keyPath!, names!, arcHops);
        var prepared = raw.Select(m => BenchMessages.ToBenchMessage(m, fallbackDomain)).ToList();

        var runner = new BenchRunner(options, prepared);
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            await runner.ProbeAsync(cts.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            Console.Error.WriteLine($"milter: bench: cannot reach a milter at {spec}: {e.Message}");
            return Program.ExitCheckFailed;
        }
        BenchRunner.Outcome outcome;
        try
        {
            await using var progress = progressSeconds == 0 ? null : new BenchProgressWriter(runner.Progress, Console.Error,
                terminal: !Console.IsErrorRedirected, TimeSpan.FromSeconds(progressSeconds));
            outcome = await runner.RunAsync(cts.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            Console.Error.WriteLine($"milter: bench: {e.Message}");
            return Program.ExitCheckFailed;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        var report = new BenchReport(options, outcome);
        Console.Out.Write(json ? report.ToJson() + "\n" : report.ToText());
        return outcome.Tally.Errors == 0 ? Program.ExitOk : Program.ExitCheckFailed;
    }

    private static List<byte[]> PreSign(List<byte[]> messages, string keyPath, DkimKeyArguments names)
    {
        using var key = KeyFile.Load("bench", keyPath);
        var signer = new DkimSigner(new DkimSignerOptions { Domain = names.Domain, Selector = names.Selector, Key = key });
        return BenchMessages.SignAll(messages, signer);
    }
}
