using System.Diagnostics;
using System.Net.Sockets;
using Milter.Protocol;
using Milter.Protocol.Client;

namespace Milter.Commands.Bench;

/// <summary>
/// Drives a milter like Postfix's smtpd does: per connection option negotiation (protocol 6, all actions,
/// Postfix's protocol flags), CONNECT and HELO once, then message after message (MAIL .. end of message) on
/// the same connection; <see cref="BenchOptions.Concurrency"/> connections at once. A connection that fails
/// counts one error for the message in flight and is replaced.
/// </summary>
internal sealed class BenchRunner(BenchOptions options, IReadOnlyList<BenchMessage> messages)
{
    private readonly BenchOptions _options = options;
    private readonly IReadOnlyList<BenchMessage> _messages = messages;
    private const string MtaHostName = "mx.bench.example";
    private int _next;
    private long _queueId = 0x1000000;

    public sealed record Outcome(BenchTally Tally, TimeSpan Elapsed);

    /// <summary>The timed run as it goes, for the progress line.</summary>
    public BenchProgress Progress { get; } = new(options.Messages);

    /// <summary>Opens one connection and negotiates, so a filter that is not there fails fast with one line.</summary>
    public async Task ProbeAsync(CancellationToken ct)
    {
        await using var client = await OpenAsync(ct);
        await client.QuitAsync(ct);
    }

    /// <summary>Runs <see cref="BenchOptions.Warmup"/> untimed messages, then the timed ones.</summary>
    public async Task<Outcome> RunAsync(CancellationToken ct)
    {
        var workers = new Worker[_options.Concurrency];
        for (var i = 0; i < workers.Length; i++) workers[i] = new Worker(this);
        try
        {
            await Task.WhenAll(workers.Select(w => w.EnsureOpenAsync(ct)));
            if (_options.Warmup > 0)
            {
                _next = 0;
                await Task.WhenAll(workers.Select(w => w.RunAsync(_options.Warmup, new BenchTally(), null, ct)));
            }
            _next = 0;
            var tallies = workers.Select(_ => new BenchTally()).ToArray();
            var start = Stopwatch.GetTimestamp();
            Progress.Start();
            await Task.WhenAll(workers.Select((w, i) => w.RunAsync(_options.Messages, tallies[i], Progress, ct)));
            var elapsed = Stopwatch.GetElapsedTime(start);
            var total = new BenchTally();
            foreach (var t in tallies) total.Merge(t);
            return new Outcome(total, elapsed);
        }
        finally
        {
            foreach (var w in workers) await w.CloseAsync();
        }
    }

    private async Task<MilterClient> OpenAsync(CancellationToken ct)
    {
        var client = await MilterClient.ConnectAsync(_options.Connect, _options.Timeout, ct);
        // As Postfix does: commands without a reply (NR_*) leave with the next one that awaits a reply.
        client.BatchNoReplyCommands = true;
        try
        {
            // MilterClient's defaults are Postfix 3.x's offer: version 6, SMFIF_* 0x1FF, SMFIP_* 0x1FFFFF.
            await client.NegotiateAsync(ct: ct);
            var ip = _options.ClientIp;
            var family = ip.AddressFamily == AddressFamily.InterNetworkV6 ? ConnectFamily.IPv6 : ConnectFamily.IPv4;
            var connectMacros = new Dictionary<string, string>
            {
                ["j"] = MtaHostName,
                ["{daemon_name}"] = MtaHostName,
                ["v"] = "Postfix 3.7",
            };
            var clientName = System.Net.IPAddress.IsLoopback(ip) ? "localhost" : "unknown";
            var reply = await client.ConnectAsync(clientName, family, 40000, ip.ToString(), connectMacros, ct);
            if (reply.IsContinue) reply = await client.HeloAsync(_options.Helo, null, ct);
            if (!reply.IsContinue) throw new IOException($"the filter answered {reply} to CONNECT/HELO");
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private int Take(int limit)
    {
        var i = Interlocked.Increment(ref _next) - 1;
        return i < limit ? i : -1;
    }

    private string NextQueueId() => Interlocked.Increment(ref _queueId).ToString("X10", System.Globalization.CultureInfo.InvariantCulture);

    private sealed class Worker(BenchRunner runner)
    {
        private MilterClient? _client;
        private int _sent;

        public async Task EnsureOpenAsync(CancellationToken ct)
        {
            _client ??= await runner.OpenAsync(ct);
            _sent = 0;
        }

        public async Task RunAsync(int limit, BenchTally tally, BenchProgress? progress, CancellationToken ct)
        {
            int index;
            while ((index = runner.Take(limit)) >= 0)
            {
                var message = runner._messages[index % runner._messages.Count];
                try
                {
                    if (_client is null) await EnsureOpenAsync(ct);
                    var tx = BenchMessages.ToTransaction(message, runner.NextQueueId());
                    var start = Stopwatch.GetTimestamp();
                    var result = await _client!.SendMessageAsync(tx, ct);
                    // Postfix aborts the filter's transaction when the filter ended it before end of message.
                    if (result.Stage != "eom") await _client.AbortAsync(ct);
                    tally.Completed(result, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    progress?.Completed();
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException && !ct.IsCancellationRequested)
                {
                    tally.Error(e);
                    progress?.Error();
                    await CloseAsync();
                    continue;
                }
                if (runner._options.PerConnection > 0 && ++_sent >= runner._options.PerConnection) await CloseAsync();
            }
        }

        public async Task CloseAsync()
        {
            var client = _client;
            _client = null;
            if (client is null) return;
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await client.QuitAsync(cts.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // the connection is gone already
            }
            await client.DisposeAsync();
        }
    }
}
