using System.Globalization;
using System.Net;
using System.Text;

namespace Milter.TestKit.Dns;

/// <summary>
/// A private Knot DNS server (knotd) on loopback: one free port on 127.0.0.1 (and ::1 when the machine has it),
/// its own config, rundir, storage and zone files in a temp dir, started in the foreground and stopped by PID.
/// The zones are checked with <c>knotc conf-check</c> and <c>knotc zone-check</c> first; their errors are in the
/// exception message. Fake TLDs (example.test, lab.example) and reverse zones work like any other zone.
/// Knot is authoritative only: point a resolver at <see cref="EndPoint"/> and query names inside the zones.
/// </summary>
public sealed class KnotDnsServer : IAsyncDisposable
{
    public const string KnotdPath = "/usr/sbin/knotd";
    public const string KnotcPath = "/usr/sbin/knotc";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDir _dir;
    private readonly BackgroundProcess _knotd;

    private KnotDnsServer(TempDir dir, BackgroundProcess knotd, int port, bool ipv6, IReadOnlyList<DnsZone> zones)
    {
        _dir = dir;
        _knotd = knotd;
        Port = port;
        ListensOnIPv6 = ipv6;
        Zones = zones;
    }

    public int Port { get; }
    public bool ListensOnIPv6 { get; }
    public IReadOnlyList<DnsZone> Zones { get; }
    public int Pid => _knotd.Pid;

    /// <summary>127.0.0.1 and <see cref="Port"/>.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>::1 and <see cref="Port"/>, when <see cref="ListensOnIPv6"/>.</summary>
    public IPEndPoint? EndPointV6 => ListensOnIPv6 ? new IPEndPoint(IPAddress.IPv6Loopback, Port) : null;

    /// <summary>The directory holding knot.conf, zones/, run/ and storage/.</summary>
    public string Directory => _dir.Path;

    /// <summary>knotd's log so far (it logs to stderr at level info).</summary>
    public string Log => _knotd.Output;

    public static Task<KnotDnsServer> StartAsync(params DnsZone[] zones) => StartAsync(zones, CancellationToken.None);

    /// <summary>Writes the config and zones, checks them, starts knotd and returns once every zone's SOA is
    /// served with the AA bit. Retries on another port when the chosen one was taken meanwhile.</summary>
    public static Task<KnotDnsServer> StartAsync(IEnumerable<DnsZone> zones, CancellationToken ct = default) =>
        StartAsync(zones, alsoListenOn: null, ct);

    /// <summary>As above, and also listening on <paramref name="alsoListenOn"/> (same port): the gateway of a
    /// container network the test created, so containers on it can query the zones.</summary>
    public static async Task<KnotDnsServer> StartAsync(IEnumerable<DnsZone> zones, IPAddress? alsoListenOn, CancellationToken ct = default)
    {
        ProcessRunner.Require(KnotdPath, "knot");
        ProcessRunner.Require(KnotcPath, "knot");
        var zoneList = zones.ToList();
        if (zoneList.Count == 0)
            throw new ArgumentException("Knot needs at least one zone", nameof(zones));
        var duplicate = zoneList.GroupBy(z => z.Origin).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"zone {duplicate.Key} is given twice", nameof(zones));

        for (int attempt = 1; ; attempt++)
        {
            var dir = new TempDir("knot");
            try
            {
                int port = FreePort.Next(alsoUdp: true);
                bool ipv6 = FreePort.HasIPv6Loopback;
                string config = WriteFiles(dir, zoneList, port, ipv6, alsoListenOn);
                await CheckAsync(config, ct);
                var knotd = BackgroundProcess.Start(KnotdPath, ["-c", config]);
                var server = new KnotDnsServer(dir, knotd, port, ipv6, zoneList);
                if (await server.WaitUntilServingAsync(ct))
                    return server;
                string log = knotd.Output;
                await server.DisposeAsync();
                if (attempt < 3 && log.Contains("cannot bind", StringComparison.OrdinalIgnoreCase))
                    continue;
                throw new InvalidOperationException(
                    $"knotd did not serve the zones {string.Join(", ", zoneList.Select(z => z.Origin))} on port {port} " +
                    $"within {StartTimeout.TotalSeconds:0}s (exit code {knotd.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none, still running"}).\n" +
                    $"--- knotd log ---\n{log.TrimEnd()}");
            }
            catch
            {
                dir.Dispose();
                throw;
            }
        }
    }

    private static string WriteFiles(TempDir dir, IReadOnlyList<DnsZone> zones, int port, bool ipv6, IPAddress? alsoListenOn)
    {
        string zonesDir = dir.Sub("zones");
        var addresses = new List<string> { $"127.0.0.1@{port}" };
        if (ipv6) addresses.Add($"::1@{port}");
        if (alsoListenOn is not null) addresses.Add($"{alsoListenOn}@{port}");
        string listen = $"[ {string.Join(", ", addresses)} ]";
        var conf = new StringBuilder();
        conf.Append(CultureInfo.InvariantCulture, $"""
            server:
                rundir: "{dir.Sub("run")}"
                listen: {listen}
                udp-workers: 1
                tcp-workers: 1
                background-workers: 1
            database:
                storage: "{dir.Sub("storage")}"
            log:
              - target: stderr
                any: info
            template:
              - id: default
                storage: "{zonesDir}"
                file: "%s.zone"
                zonefile-sync: -1
                zonefile-load: whole
                journal-content: none
            zone:

            """);
        foreach (var zone in zones)
        {
            File.WriteAllText(Path.Combine(zonesDir, zone.Name + ".zone"), zone.ToZoneFileText());
            conf.Append(CultureInfo.InvariantCulture, $"  - domain: \"{zone.Origin}\"\n");
        }
        string path = dir.File("knot.conf");
        File.WriteAllText(path, conf.ToString());
        return path;
    }

    /// <summary>knotc conf-check and zone-check; throws with their output and the numbered zone files.</summary>
    private static async Task CheckAsync(string config, CancellationToken ct)
    {
        foreach (string command in new[] { "conf-check", "zone-check" })
        {
            var result = await ProcessRunner.RunAsync(KnotcPath, ["-c", config, command], CheckTimeout, ct);
            if (!result.Succeeded)
            {
                string zonesDir = Path.Combine(Path.GetDirectoryName(config)!, "zones");
                var listing = new StringBuilder();
                foreach (string file in System.IO.Directory.GetFiles(zonesDir))
                {
                    listing.Append("--- ").Append(Path.GetFileName(file)).Append(" ---\n");
                    int n = 0;
                    foreach (string line in File.ReadLines(file))
                        listing.Append(CultureInfo.InvariantCulture, $"{++n,4}: {line}\n");
                }
                throw new InvalidOperationException($"knotc {command} rejected the test zones:\n{result.Describe()}\n{listing}");
            }
        }
    }

    private async Task<bool> WaitUntilServingAsync(CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        var pending = new List<DnsZone>(Zones);
        while (DateTime.UtcNow < deadline && !_knotd.HasExited)
        {
            for (int i = pending.Count - 1; i >= 0; i--)
            {
                var reply = await DnsProbe.QueryAsync(EndPoint, pending[i].Name, DnsProbe.TypeSoa, TimeSpan.FromMilliseconds(200), ct);
                if (reply is { ResponseCode: 0, Authoritative: true, AnswerCount: > 0 })
                    pending.RemoveAt(i);
            }
            if (pending.Count == 0)
                return true;
            await Task.Delay(50, ct);
        }
        return false;
    }

    /// <summary>Replaces one of the zones (same origin) with <paramref name="zone"/>: writes its file and has knotd reload it
    /// (<c>knotc zone-reload</c>), then waits (bounded) until <paramref name="servedName"/> answers with TXT records, or, when
    /// null, for the reload to finish. Give the new zone a higher SOA serial than the old one (the default SOA has serial 1).</summary>
    public async Task ReloadZoneAsync(DnsZone zone, string? servedName = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (!Zones.Any(z => z.Origin == zone.Origin))
            throw new ArgumentException($"zone {zone.Origin} is not served by this knotd", nameof(zone));
        File.WriteAllText(Path.Combine(_dir.Path, "zones", zone.Name + ".zone"), zone.ToZoneFileText());
        var result = await ProcessRunner.RunAsync(KnotcPath, ["-c", _dir.File("knot.conf"), "-b", "zone-reload", zone.Origin], CheckTimeout, ct);
        if (!result.Succeeded)
            throw new InvalidOperationException($"knotc zone-reload {zone.Origin} failed:\n{result.Describe()}\n--- knotd log ---\n{Log}");
        if (servedName is null) return;
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var reply = await DnsProbe.QueryAsync(EndPoint, servedName, DnsProbe.TypeTxt, TimeSpan.FromMilliseconds(200), ct);
            if (reply is { ResponseCode: 0, AnswerCount: > 0 }) return;
            await Task.Delay(50, ct);
        }
        throw new TimeoutException($"knotd did not serve TXT {servedName} within {StartTimeout.TotalSeconds:0}s of the reload.\n--- knotd log ---\n{Log}");
    }

    /// <summary>Stops knotd by its PID (SIGTERM, then SIGKILL after 5 s) and deletes its directory.</summary>
    public async Task StopAsync()
    {
        await _knotd.StopAsync(TimeSpan.FromSeconds(5));
        _dir.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _knotd.DisposeAsync();
    }
}
