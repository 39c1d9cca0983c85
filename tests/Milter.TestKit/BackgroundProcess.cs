using System.Diagnostics;
using System.Text;

namespace Milter.TestKit;

/// <summary>A daemon started in the foreground of a child process, recorded by PID, its output kept
/// (the last 256 KiB) for failure messages, and stopped by that PID: SIGTERM, then SIGKILL.</summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private const int MaxOutputChars = 256 * 1024;
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private BackgroundProcess(Process process, string command)
    {
        _process = process;
        Command = command;
    }

    public string Command { get; }
    public int Pid => _process.Id;
    private bool _disposed;
    private IDisposable? _janitor;
    private int? _exitCodeAtDispose;

    public bool HasExited => _disposed || _process.HasExited;

    /// <summary>The exit code once the process has ended (still readable after dispose).</summary>
    public int? ExitCode => _disposed ? _exitCodeAtDispose : _process.HasExited ? _process.ExitCode : null;

    /// <summary>Standard output and error as received so far, interleaved by line.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static BackgroundProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var startInfo = ProcessRunner.CreateStartInfo(fileName, arguments, workingDirectory);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var background = new BackgroundProcess(process, ProcessRunner.Describe(startInfo));
        process.OutputDataReceived += (_, e) => background.Append(e.Data);
        process.ErrorDataReceived += (_, e) => background.Append(e.Data);
        if (!process.Start())
            throw new InvalidOperationException($"could not start {background.Command}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        int pid = process.Id;
        background._janitor = Janitor.Register(() => UnixProcess.Signal(pid, UnixProcess.SigKill));
        return background;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            _output.Append(line).Append('\n');
            if (_output.Length > MaxOutputChars)
                _output.Remove(0, _output.Length - MaxOutputChars);
        }
    }

    /// <summary>Sends SIGTERM to the recorded PID, waits up to <paramref name="grace"/>, then kills the tree.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (HasExited)
            return;
        UnixProcess.Signal(Pid, UnixProcess.SigTerm);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(grace);
        }
        catch (TimeoutException)
        {
            ProcessRunner.KillTree(_process);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        await StopAsync(TimeSpan.FromSeconds(5));
        _exitCodeAtDispose = _process.HasExited ? _process.ExitCode : null;
        _disposed = true;
        _process.Dispose();
        _janitor?.Dispose();
    }
}
