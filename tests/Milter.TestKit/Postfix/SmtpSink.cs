using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Milter.TestKit.Postfix;

/// <summary>
/// Postfix's smtp-sink on 127.0.0.1 (a free port), started by PID: the receiving end of a test Postfix.
/// By default every message goes to its own file (<c>-d DIR/%Y%m%d%H%M%S.</c>, as user postfix); in counting
/// mode (for benchmarks) nothing is written and only the message counter is kept.
/// </summary>
public sealed partial class SmtpSink : IAsyncDisposable
{
    public const string SmtpSinkPath = "/usr/sbin/smtp-sink";
    private readonly BackgroundProcess _process;
    private readonly TempDir? _ownedDir;
    private readonly Func<string>? _diagnostics;

    private SmtpSink(BackgroundProcess process, IPAddress address, int port, string? directory, TempDir? ownedDir, Func<string>? diagnostics)
    {
        _process = process;
        Address = address;
        Port = port;
        Directory = directory;
        _ownedDir = ownedDir;
        _diagnostics = diagnostics;
    }

    public int Port { get; }

    /// <summary>The address it listens on: 127.0.0.1 unless given (e.g. a test container network's gateway).</summary>
    public IPAddress Address { get; }

    public IPEndPoint EndPoint => new(Address, Port);
    public int Pid => _process.Pid;

    /// <summary>Where message files go; null in counting mode.</summary>
    public string? Directory { get; }

    public bool CountOnly => Directory is null;

    /// <summary>Messages completed so far, from smtp-sink's own counter (-c).</summary>
    public int MessagesReceived
    {
        get
        {
            var matches = MesgCounter().Matches(_process.Output);
            return matches.Count == 0 ? 0 : int.Parse(matches[^1].Groups[1].Value, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The message files written so far, oldest first.</summary>
    public IReadOnlyList<string> MessageFiles =>
        Directory is null
            ? []
            : new DirectoryInfo(Directory).GetFiles().OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name)
                .Select(f => f.FullName).ToList();

    /// <summary>Starts smtp-sink. <paramref name="directory"/> is where files go (made writable for user
    /// postfix); null gives a temp dir owned by the sink. <paramref name="diagnostics"/> adds text (e.g. the
    /// Postfix maillog) to timeout messages.</summary>
    public static async Task<SmtpSink> StartAsync(string? directory = null, bool countOnly = false,
        Func<string>? diagnostics = null, CancellationToken ct = default) =>
        await StartAsync(directory, countOnly, diagnostics, port: null, ct);

    /// <summary>As above, on a given <paramref name="port"/> (e.g. a relayhost port chosen before the sink
    /// existed); null picks a free one.</summary>
    public static Task<SmtpSink> StartAsync(string? directory, bool countOnly, Func<string>? diagnostics, int? port,
        CancellationToken ct = default) =>
        StartAsync(directory, countOnly, diagnostics, port, IPAddress.Loopback, ct);

    /// <summary>As above, listening on <paramref name="address"/> instead of 127.0.0.1: the gateway of a
    /// container network the test created, so containers on it can relay to the sink.</summary>
    public static async Task<SmtpSink> StartAsync(string? directory, bool countOnly, Func<string>? diagnostics, int? port,
        IPAddress address, CancellationToken ct = default)
    {
        ProcessRunner.Require(SmtpSinkPath, "postfix");
        TempDir? owned = null;
        if (!countOnly && directory is null)
        {
            owned = new TempDir("sink");
            directory = owned.Sub("messages");
        }
        if (countOnly)
            directory = null;
        if (directory is not null)
        {
            System.IO.Directory.CreateDirectory(directory);
            TempDir.SetMode(directory, (UnixFileMode)0x1FF); // 0777: smtp-sink writes as user postfix
        }

        for (int attempt = 1; ; attempt++)
        {
            int listenPort = port ?? FreePort.Next();
            var args = new List<string> { "-u", "postfix", "-c" };
            if (directory is not null)
                args.AddRange(["-d", Path.Combine(directory, "%Y%m%d%H%M%S.")]);
            args.AddRange([$"{address}:{listenPort}", "512"]);
            var process = BackgroundProcess.Start(SmtpSinkPath, args);
            var sink = new SmtpSink(process, address, listenPort, directory, owned, diagnostics);
            if (await PortProbe.WaitForTcpAsync(sink.EndPoint, TimeSpan.FromSeconds(10), () => process.HasExited, ct))
                return sink;
            string output = process.Output;
            await process.DisposeAsync();
            if (port is null && attempt < 3 && output.Contains("in use", StringComparison.OrdinalIgnoreCase))
                continue;
            owned?.Dispose();
            throw new InvalidOperationException($"smtp-sink did not listen on {address}:{listenPort}:\n{process.Command}\n{output}");
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages have completed and returns the bytes of all
    /// message files (oldest first). Each file starts with smtp-sink's own X-Client-Addr/X-Mail-Args/...
    /// lines and its Received header, then the message as Postfix relayed it.</summary>
    public async Task<IReadOnlyList<byte[]>> WaitForMessagesAsync(int count, TimeSpan timeout, CancellationToken ct = default)
    {
        if (CountOnly)
            throw new InvalidOperationException("this sink only counts messages; use WaitForCountAsync");
        await WaitAsync(() => MessagesReceived >= count && MessageFiles.Count >= count, count, timeout, ct);
        var files = new List<byte[]>();
        foreach (string file in MessageFiles)
            files.Add(await File.ReadAllBytesAsync(file, ct));
        return files;
    }

    /// <summary>The message as Postfix relayed it, from a sink file: smtp-sink's own first lines (X-Client-Addr,
    /// X-Client-Proto, X-Helo-Args, X-Mail-Args, X-Rcpt-Args) and its Received header removed, and the LF line
    /// ends it writes turned back into CRLF (so a bare CR in the original is not preserved), and the empty
    /// line smtp-sink appends removed.</summary>
    public static byte[] StripSinkHeaders(byte[] file)
    {
        string text = System.Text.Encoding.Latin1.GetString(file).Replace("\r\n", "\n", StringComparison.Ordinal);
        if (text.EndsWith("\n\n", StringComparison.Ordinal))
            text = text[..^1]; // smtp-sink ends each file with an empty line of its own
        string[] lines = text.Split('\n');
        int i = 0;
        while (i < lines.Length && SinkPrefixes.Any(p => lines[i].StartsWith(p, StringComparison.Ordinal)))
            i++;
        if (i < lines.Length && lines[i].StartsWith("Received:", StringComparison.Ordinal) &&
            Enumerable.Range(i, Math.Min(3, lines.Length - i)).Any(k => lines[k].Contains("by smtp-sink", StringComparison.Ordinal)))
        {
            i++;
            while (i < lines.Length && lines[i].Length > 0 && lines[i][0] is ' ' or '\t')
                i++;
        }
        string rest = string.Join("\r\n", lines.Skip(i));
        return System.Text.Encoding.Latin1.GetBytes(rest);
    }

    private static readonly string[] SinkPrefixes = ["X-Client-Addr:", "X-Client-Proto:", "X-Helo-Args:", "X-Mail-Args:", "X-Rcpt-Args:"];

    /// <summary>Waits until smtp-sink has counted <paramref name="count"/> messages.</summary>
    public Task WaitForCountAsync(int count, TimeSpan timeout, CancellationToken ct = default) =>
        WaitAsync(() => MessagesReceived >= count, count, timeout, ct);

    /// <summary>Asserts that nothing arrives during <paramref name="period"/> (returns the count seen).</summary>
    public async Task<int> CountAfterAsync(TimeSpan period, CancellationToken ct = default)
    {
        await Task.Delay(period, ct);
        return Math.Max(MessagesReceived, MessageFiles.Count);
    }

    private async Task WaitAsync(Func<bool> done, int count, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline || _process.HasExited)
            {
                throw new TimeoutException(
                    $"smtp-sink on port {Port} received {MessagesReceived} of {count} messages within {timeout.TotalSeconds:0.#}s" +
                    (_process.HasExited ? $" (smtp-sink exited with {_process.ExitCode})" : "") +
                    $"; files: {MessageFiles.Count}\n--- smtp-sink output ---\n{_process.Output.TrimEnd()}" +
                    (_diagnostics is null ? "" : "\n" + _diagnostics()));
            }
            await Task.Delay(25, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _ownedDir?.Dispose();
    }

    [GeneratedRegex(@"mesg=(\d+)")]
    private static partial Regex MesgCounter();
}
