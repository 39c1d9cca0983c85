using System.Globalization;
using System.Net;
using Milter.TestKit.Smtp;

namespace Milter.TestKit.Postfix;

/// <summary>
/// A private Postfix on 127.0.0.1: its own config, queue and data directories under a temp dir, its own
/// smtpd port, myhostname and syslog_name (so several run side by side), its log in a file (maillog_file via
/// postlogd, no syslog needed), relaying everything to its own <see cref="SmtpSink"/>. Needs root.
/// Started with <c>postfix -c DIR check</c> and <c>start</c> (under <c>script</c>, which makes failures print),
/// ready once the smtpd port answers 220; stopped with <c>postfix stop</c>, then by the master's PID.
/// </summary>
public sealed class PostfixInstance : IAsyncDisposable
{
    public const string PostfixPath = "/usr/sbin/postfix";
    public const string PostqueuePath = "/usr/sbin/postqueue";
    public const string SendmailPath = "/usr/sbin/sendmail";
    public const string ScriptPath = "/usr/bin/script";
    private static readonly string[] QueueFolders = ["maildrop", "incoming", "active", "deferred", "hold"];

    private readonly TempDir _dir;
    private readonly PostfixOptions _options;
    private int _masterPid;
    private bool _stopped;
    private IDisposable? _janitor;

    private PostfixInstance(TempDir dir, PostfixOptions options, string name, int smtpdPort, SmtpSink? sink)
    {
        _dir = dir;
        _options = options;
        Name = name;
        SmtpdPort = smtpdPort;
        Sink = sink;
    }

    /// <summary>Unique per instance: the myhostname prefix and the syslog_name in the maillog.</summary>
    public string Name { get; }
    public int SmtpdPort { get; }
    public IPEndPoint SmtpdEndPoint => new(IPAddress.Loopback, SmtpdPort);
    public SmtpSink? Sink { get; }
    public string BaseDirectory => _dir.Path;
    public string ConfigDirectory => Path.Combine(_dir.Path, "etc");
    public string QueueDirectory => Path.Combine(_dir.Path, "queue");
    public string MaillogPath => Path.Combine(_dir.Path, "maillog");
    public int MasterPid => _masterPid;

    /// <summary>Writes the configuration, starts the sink and Postfix, and waits for the 220 greeting.</summary>
    public static async Task<PostfixInstance> StartAsync(PostfixOptions? options = null, CancellationToken ct = default)
    {
        options ??= new PostfixOptions();
        ProcessRunner.Require(PostfixPath, "postfix");
        ProcessRunner.Require(ScriptPath, "bsdutils");
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            throw new InvalidOperationException($"a private Postfix instance needs root (running as {Environment.UserName})");

        for (int attempt = 1; ; attempt++)
        {
            var dir = new TempDir("postfix");
            PostfixInstance? instance = null;
            try
            {
                string name = "pf" + Guid.NewGuid().ToString("N")[..10]; // lower-case hex: a valid, unique host label
                SmtpSink? sink = null;
                if (options.StartSink)
                {
                    sink = await SmtpSink.StartAsync(options.SinkCountOnly ? null : dir.Sub("sink"), options.SinkCountOnly,
                        () => "--- maillog ---\n" + instance?.MaillogTail(), ct);
                }
                instance = new PostfixInstance(dir, options, name, FreePort.Next(), sink);
                await instance.ConfigureAsync(ct);
                if (await instance.TryStartAsync(ct))
                    return instance;
                string log = instance.MaillogTail(80);
                await instance.DisposeAsync();
                if (attempt < 3 && log.Contains("Address already in use", StringComparison.Ordinal))
                    continue;
                throw new InvalidOperationException($"postfix {name} did not greet on 127.0.0.1:{instance.SmtpdPort}\n--- maillog ---\n{log}");
            }
            catch
            {
                if (instance is not null)
                    await instance.DisposeAsync();
                dir.Dispose();
                throw;
            }
        }
    }

    private IReadOnlyDictionary<string, string> Placeholders() => new Dictionary<string, string>
    {
        ["CONFIG_DIR"] = ConfigDirectory,
        ["QUEUE_DIR"] = QueueDirectory,
        ["DATA_DIR"] = Path.Combine(_dir.Path, "data"),
        ["BASE_DIR"] = _dir.Path,
        ["SMTPD_PORT"] = SmtpdPort.ToString(CultureInfo.InvariantCulture),
        ["SINK_PORT"] = (Sink?.Port ?? _options.RelayPort ?? 0).ToString(CultureInfo.InvariantCulture),
        ["NAME"] = Name,
        ["MAILLOG"] = MaillogPath,
    };

    private async Task ConfigureAsync(CancellationToken ct)
    {
        var values = Placeholders();
        _dir.Sub("etc");
        _dir.Sub("queue");
        string data = _dir.Sub("data");
        File.WriteAllText(MaillogPath, "");
        int? relay = Sink?.Port ?? _options.RelayPort;
        File.WriteAllText(Path.Combine(ConfigDirectory, "main.cf"), PostfixConfig.Fill(PostfixConfig.BuildMain(_options, relay), values));
        File.WriteAllText(Path.Combine(ConfigDirectory, "master.cf"), PostfixConfig.Fill(PostfixConfig.BuildMaster(_options), values));
        // The data directory must belong to postfix, or start fails after check only warned.
        (await ProcessRunner.RunAsync("/bin/chown", ["postfix", data, MaillogPath], _options.CommandTimeout, ct)).EnsureSuccess("chown postfix");
    }

    private async Task<bool> TryStartAsync(CancellationToken ct)
    {
        var check = await ProcessRunner.RunAsync(PostfixPath, ["-c", ConfigDirectory, "check"], _options.CommandTimeout, ct);
        if (!check.Succeeded)
            throw new InvalidOperationException($"postfix check failed for {Name}:\n{check.Describe()}\n{Files()}");
        // Without a terminal and /dev/log, postfix start prints nothing when it fails; script gives it a tty.
        var start = await ProcessRunner.RunAsync(ScriptPath, ["-qec", $"{PostfixPath} -c {ConfigDirectory} start", "/dev/null"],
            _options.CommandTimeout, ct);
        if (!start.Succeeded)
            throw new InvalidOperationException($"postfix start failed for {Name}:\n{start.Describe()}\n--- maillog ---\n{MaillogTail()}\n{Files()}");
        _masterPid = await ReadMasterPidAsync();
        int masterPid = _masterPid;
        _janitor = Janitor.Register(() => UnixProcess.Signal(masterPid, UnixProcess.SigTerm));

        var deadline = DateTime.UtcNow + _options.CommandTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_masterPid != 0 && !UnixProcess.IsAlive(_masterPid))
                return false;
            string log = MaillogTail(200);
            if (log.Contains(" fatal: ", StringComparison.Ordinal) || log.Contains("bad command startup", StringComparison.Ordinal))
                return false;
            if (await PortProbe.CanConnectAsync(SmtpdEndPoint, TimeSpan.FromSeconds(1), ct))
            {
                try
                {
                    await using var probe = await SmtpTestClient.ConnectAsync("127.0.0.1", SmtpdPort, TimeSpan.FromSeconds(5), ct);
                    if (probe.Banner.Code == 220)
                    {
                        await probe.CommandAsync("QUIT", ct);
                        return true;
                    }
                }
                catch (IOException)
                {
                    // smtpd accepted but did not greet (e.g. it died on a fatal error); the maillog says why.
                }
            }
            await Task.Delay(50, ct);
        }
        return false;
    }

    /// <summary>The master's PID from queue/pid/master.pid. The master holds an exclusive flock on that file,
    /// and .NET's FileStream takes a shared one when opening, so the file is read by cat.</summary>
    private async Task<int> ReadMasterPidAsync()
    {
        string pidFile = Path.Combine(QueueDirectory, "pid", "master.pid");
        if (!File.Exists(pidFile))
            return 0;
        var cat = await ProcessRunner.RunAsync("/bin/cat", [pidFile], TimeSpan.FromSeconds(10));
        return cat.Succeeded && int.TryParse(cat.StdOut.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : 0;
    }

    private string Files() =>
        $"--- main.cf ---\n{SafeRead(Path.Combine(ConfigDirectory, "main.cf"))}--- master.cf ---\n{SafeRead(Path.Combine(ConfigDirectory, "master.cf"))}";

    private static string SafeRead(string path) => File.Exists(path) ? File.ReadAllText(path) : "(missing)\n";

    /// <summary>The last lines of this instance's maillog (for failure messages).</summary>
    public string MaillogTail(int lines = 40)
    {
        if (!File.Exists(MaillogPath))
            return "(no maillog)";
        try
        {
            using var stream = new FileStream(MaillogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines - 1)));
        }
        catch (IOException e)
        {
            return $"(maillog unreadable: {e.Message})";
        }
    }

    /// <summary>Waits until the maillog contains <paramref name="text"/> (e.g. "status=deferred", "milter-reject")
    /// and returns the log; throws with the log tail after <paramref name="timeout"/>.</summary>
    public async Task<string> WaitForLogAsync(string text, TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string log = MaillogTail(int.MaxValue - 1);
            if (log.Contains(text, StringComparison.Ordinal))
                return log;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"'{text}' did not appear in the maillog of {Name} within {timeout.TotalSeconds:0.#}s\n--- maillog ---\n{MaillogTail()}");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Asks the queue manager to retry every deferred message now (postqueue -f).</summary>
    public async Task FlushAsync(CancellationToken ct = default) =>
        (await ProcessRunner.RunAsync(PostqueuePath, ["-c", ConfigDirectory, "-f"], _options.CommandTimeout, ct))
            .EnsureSuccess($"postqueue -f ({Name})");

    /// <summary>Messages in the queue (maildrop, incoming, active, deferred, hold), counted as queue files.</summary>
    public int QueueCount() =>
        QueueFolders.Select(f => Path.Combine(QueueDirectory, f)).Where(Directory.Exists)
            .Sum(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories).Count());

    /// <summary>Waits until the queue is empty (every message delivered or bounced).</summary>
    public async Task WaitForEmptyQueueAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (QueueCount() > 0)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{QueueCount()} message(s) still queued in {Name} after {timeout.TotalSeconds:0.#}s\n--- maillog ---\n{MaillogTail()}");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Submits a message with this instance's sendmail (the non-SMTP path: non_smtpd_milters apply).</summary>
    public async Task<ProcessResult> SendmailAsync(string from, IEnumerable<string> to, byte[] message, CancellationToken ct = default)
    {
        var args = new List<string> { "-C", ConfigDirectory, "-i", "-f", from, "--" };
        args.AddRange(to);
        return await ProcessRunner.RunAsync(SendmailPath, args, _options.CommandTimeout, message, null, ct);
    }

    /// <summary>SmtpTestClient.SendAsync against this instance's smtpd.</summary>
    public Task<SmtpTransaction> SendAsync(string from, IEnumerable<string> to, byte[] message, XClientAttributes? xclient = null,
        CancellationToken ct = default) =>
        SmtpTestClient.SendAsync("127.0.0.1", SmtpdPort, from, to, message, xclient, ct: ct);

    /// <summary>postfix stop, then waits for the master and its children by PID (SIGKILL after 10 s).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
            return;
        _stopped = true;
        try
        {
            if (_masterPid == 0)
                _masterPid = await ReadMasterPidAsync();
        int masterPid = _masterPid;
        _janitor = Janitor.Register(() => UnixProcess.Signal(masterPid, UnixProcess.SigTerm));
            if (_masterPid != 0 && UnixProcess.IsAlive(_masterPid))
            {
                var pids = new List<int> { _masterPid };
                pids.AddRange(UnixProcess.Children(_masterPid));
                await ProcessRunner.RunAsync(PostfixPath, ["-c", ConfigDirectory, "stop"], _options.CommandTimeout);
                await UnixProcess.WaitOrKillAsync(pids, TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            _janitor?.Dispose();
            if (Sink is not null)
                await Sink.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _dir.Dispose();
    }
}
