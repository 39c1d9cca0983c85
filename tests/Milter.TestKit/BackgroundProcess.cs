using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Milter.TestKit;

/// <summary>A daemon started in the foreground of a child process, recorded by PID, its output kept
/// (the last 256 KiB) for failure messages, and stopped by that PID: SIGTERM, then SIGKILL.</summary>
public sealed partial class BackgroundProcess : IAsyncDisposable
{
    private const int MaxOutputChars = 256 * 1024;
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private BackgroundProcess(Process process, string command)
    {
        _process = process;
        Command = command;
    }

    public string Command { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

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
        if (_process.HasExited)
            return;
        _ = Kill(Pid, SigTerm);
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
        await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
