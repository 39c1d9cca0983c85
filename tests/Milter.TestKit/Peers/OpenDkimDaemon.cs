using System.Globalization;
using System.Net;
using System.Text;

namespace Milter.TestKit.Peers;

/// <summary>How <see cref="OpenDkimDaemon"/> configures OpenDKIM (opendkim.conf(5) names in the comments).</summary>
public sealed class OpenDkimOptions
{
    /// <summary>Mode: "s" (sign), "v" (verify) or "sv".</summary>
    public string Mode { get; set; } = "s";

    /// <summary>Domain, Selector and the key (KeyFile): a PEM RSA key, or for ed25519 the PEM/raw form opendkim takes.</summary>
    public string Domain { get; set; } = "example.test";
    public string Selector { get; set; } = "sel";
    public string? PrivateKeyPem { get; set; }

    /// <summary>Canonicalization, e.g. "relaxed/simple".</summary>
    public string Canonicalization { get; set; } = "relaxed/simple";

    /// <summary>Nameservers 127.0.0.1@PORT: the loopback DNS server (e.g. KnotDnsServer.Port) used for key lookups.
    /// OpenDKIM's resolver (libunbound) answers NXDOMAIN for .test names by itself: use zones like lab.example.</summary>
    public int? DnsPort { get; set; }

    /// <summary>More opendkim.conf lines appended as they are.</summary>
    public string? ExtraConfig { get; set; }
}

/// <summary>
/// Debian's OpenDKIM (/usr/sbin/opendkim) as a milter on 127.0.0.1 (a free port), run in the foreground
/// (-f, Background no, Syslog no) and stopped by its PID. For interoperability tests: put
/// <see cref="PostfixMilterSpec"/> into Postfix's smtpd_milters. With Syslog off it logs nothing but
/// configuration errors on stderr (in <see cref="Output"/>).
/// </summary>
public sealed class OpenDkimDaemon : IAsyncDisposable
{
    public const string OpenDkimPath = "/usr/sbin/opendkim";
    private readonly TempDir _dir;
    private readonly BackgroundProcess _process;

    private OpenDkimDaemon(TempDir dir, BackgroundProcess process, int port)
    {
        _dir = dir;
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public int Pid => _process.Pid;
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>"inet:127.0.0.1:PORT", the form Postfix's smtpd_milters takes.</summary>
    public string PostfixMilterSpec => $"inet:127.0.0.1:{Port}";

    /// <summary>"inet:PORT@127.0.0.1", the form miltertest's mt.connect takes.</summary>
    public string MiltertestSpec => $"inet:{Port}@127.0.0.1";

    public string Output => _process.Output;
    public string ConfigPath => _dir.File("opendkim.conf");

    public static async Task<OpenDkimDaemon> StartAsync(OpenDkimOptions options, CancellationToken ct = default)
    {
        ProcessRunner.Require(OpenDkimPath, "opendkim");
        if (options.Mode.Contains('s', StringComparison.Ordinal) && options.PrivateKeyPem is null)
            throw new ArgumentException("signing mode needs PrivateKeyPem", nameof(options));
        for (int attempt = 1; ; attempt++)
        {
            var dir = new TempDir("opendkim");
            try
            {
                int port = FreePort.Next();
                string config = WriteConfig(dir, options, port);
                var process = BackgroundProcess.Start(OpenDkimPath, ["-f", "-x", config]);
                var daemon = new OpenDkimDaemon(dir, process, port);
                if (await PortProbe.WaitForTcpAsync(daemon.EndPoint, TimeSpan.FromSeconds(15), () => process.HasExited, ct))
                    return daemon;
                string output = process.Output;
                string configText = File.ReadAllText(config);
                await daemon.DisposeAsync();
                if (attempt < 3 && output.Contains("in use", StringComparison.OrdinalIgnoreCase))
                    continue;
                throw new InvalidOperationException(
                    $"opendkim did not listen on 127.0.0.1:{port} (exit code {process.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}):\n" +
                    $"{process.Command}\n--- output ---\n{output}\n--- opendkim.conf ---\n{configText}");
            }
            catch
            {
                dir.Dispose();
                throw;
            }
        }
    }

    private static string WriteConfig(TempDir dir, OpenDkimOptions options, int port)
    {
        var conf = new StringBuilder();
        conf.Append(CultureInfo.InvariantCulture, $"""
            Mode {options.Mode}
            Socket inet:{port}@127.0.0.1
            Background no
            Syslog no
            RequireSafeKeys no
            PidFile {dir.File("opendkim.pid")}
            Canonicalization {options.Canonicalization}
            Domain {options.Domain}
            Selector {options.Selector}

            """);
        if (options.PrivateKeyPem is not null)
        {
            string keyFile = dir.File("key.private");
            File.WriteAllText(keyFile, options.PrivateKeyPem);
            TempDir.SetMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            conf.Append("KeyFile ").Append(keyFile).Append('\n');
        }
        if (options.DnsPort is int dnsPort)
            conf.Append(CultureInfo.InvariantCulture, $"Nameservers 127.0.0.1@{dnsPort}\n");
        if (options.ExtraConfig is not null)
            conf.Append(options.ExtraConfig).Append('\n');
        string path = dir.File("opendkim.conf");
        File.WriteAllText(path, conf.ToString());
        return path;
    }

    /// <summary>Stops opendkim by its PID (SIGTERM, SIGKILL after 5 s) and removes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _dir.Dispose();
    }
}
