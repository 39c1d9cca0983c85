using System.Diagnostics;
using System.Text;
using Milter.TestKit;

namespace Milter.Tests.Fixtures;

/// <summary>
/// A real `milter run` process for end-to-end tests: started with `dotnet milter.dll`, waited for until it
/// logs that it listens, stopped by PID (SIGTERM, then kill after a bound).
/// </summary>
public sealed class MilterDaemon : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TempDir? _dataDir;

    private MilterDaemon(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static string MilterDll
    {
        get
        {
            var here = Path.Combine(AppContext.BaseDirectory, "milter.dll");
            if (File.Exists(here) && File.Exists(Path.Combine(AppContext.BaseDirectory, "milter.runtimeconfig.json")))
                return here;
            throw new FileNotFoundException($"milter.dll with its runtimeconfig not found in {AppContext.BaseDirectory}");
        }
    }

    /// <summary>Runs `milter ARGS` to completion (for CLI tests): in the test process when the command allows it
    /// and no environment is given (<see cref="InProcessCli"/>), else as a process.</summary>
    public static Task<(int ExitCode, string StdOut, string StdErr)> RunCliAsync(IEnumerable<string> args, string? stdin = null,
        IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var list = args.ToList();
        return environment is null && InProcessCli.Supports(list)
            ? InProcessCli.RunAsync(list, stdin, timeout ?? TimeSpan.FromSeconds(60))
            : RunCliProcessAsync(list, stdin, environment, timeout);
    }

    /// <summary>Runs `dotnet milter.dll ARGS` as a process to completion: for what only a process shows (exit
    /// status, stdin and stdout as pipes, the environment, signals).</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunCliProcessAsync(IEnumerable<string> args, string? stdin = null,
        IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var psi = NewStartInfo(args, environment);
        psi.RedirectStandardInput = true;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"milter {string.Join(' ', args)} did not finish in time; stderr: {await stderr}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>A published `milter` executable (trimmed, Native AOT) the process tests run instead of
    /// `dotnet milter.dll`, when the environment names one: TEST_MILTER_EXECUTABLE=/path/to/milter dotnet test ...
    /// (not a MILTER_ variable: the configuration would read it as a key).</summary>
    public static string? PublishedExecutable
        => Environment.GetEnvironmentVariable("TEST_MILTER_EXECUTABLE") is { Length: > 0 } path
            ? File.Exists(path) ? Path.GetFullPath(path) : throw new FileNotFoundException($"TEST_MILTER_EXECUTABLE={path}: no such file")
            : null;

    private static ProcessStartInfo NewStartInfo(IEnumerable<string> args, IDictionary<string, string>? environment)
    {
        var published = PublishedExecutable;
        var psi = new ProcessStartInfo(published ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (published is null) psi.ArgumentList.Add(MilterDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MILTER_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        if (environment is not null)
        {
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        }
        return psi;
    }

    /// <summary>Starts `milter run ARGS` and waits until it logs "milter started".</summary>
    public static async Task<MilterDaemon> StartAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        // Each daemon keeps its DMARC report store in a directory of its own (never the machine's /var/lib/milter),
        // unless the test chooses one.
        var dataDir = new TempDir("milter-data");
        var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>());
        env.TryAdd("MILTER_Reports__DataDirectory", dataDir.Path);
        var psi = NewStartInfo(new[] { "run" }.Concat(args), env);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var daemon = new MilterDaemon(process) { _dataDir = dataDir };
        process.OutputDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.Exited += (_, _) => daemon._started.TrySetException(
            new InvalidOperationException($"milter exited during start-up; output:\n{daemon.Output}"));
        if (!process.Start()) throw new InvalidOperationException("dotnet did not start");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var wait = timeout ?? TimeSpan.FromSeconds(30);
        var done = await Task.WhenAny(daemon._started.Task, Task.Delay(wait));
        if (done != daemon._started.Task)
        {
            await daemon.DisposeAsync();
            throw new TimeoutException($"milter did not start within {wait}; output:\n{daemon.Output}");
        }
        await daemon._started.Task;
        return daemon;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.Contains("milter started", StringComparison.Ordinal)) _started.TrySetResult();
    }

    /// <summary>Waits until the output contains <paramref name="text"/> (bounded).</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Output.Contains(text, StringComparison.Ordinal)) return true;
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>SIGTERM (graceful drain) and wait for exit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            _ = UnixProcess.Signal(_process.Id, UnixProcess.SigTerm);
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                throw new TimeoutException($"milter did not stop on SIGTERM; output:\n{Output}");
            }
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the daemon dies at once (failover drills).</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) await StopAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // already killed
        }
        _process.Dispose();
        _dataDir?.Dispose();
    }
}
