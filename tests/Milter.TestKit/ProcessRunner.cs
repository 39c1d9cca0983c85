using System.Diagnostics;
using System.Text;

namespace Milter.TestKit;

/// <summary>Runs external programs for the fixtures: bounded by a timeout, output captured,
/// the whole process tree killed when the time is up.</summary>
public static class ProcessRunner
{
    /// <summary>Returns <paramref name="path"/> when the file exists; otherwise throws with the Debian
    /// package that provides it, e.g. "knotd not found: install the Debian package knot (./test.sh does)".</summary>
    public static string Require(string path, string debianPackage)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{Path.GetFileName(path)} not found at {path}: install the Debian package {debianPackage} (./test.sh does)", path);
        return path;
    }

    public static Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        CancellationToken cancellationToken = default) =>
        RunAsync(fileName, arguments, timeout, stdin: null, workingDirectory: null, cancellationToken);

    /// <summary>Runs the program to completion or until <paramref name="timeout"/>; then the process
    /// tree is killed and <see cref="ProcessResult.TimedOut"/> is set. Cancellation kills it too and throws.</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        byte[]? stdin, string? workingDirectory, CancellationToken cancellationToken = default)
    {
        var startInfo = CreateStartInfo(fileName, arguments, workingDirectory);
        startInfo.RedirectStandardInput = true;
        string command = Describe(startInfo);
        using var process = new Process { StartInfo = startInfo };
        if (!process.Start())
            throw new InvalidOperationException($"could not start {command}");

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            if (stdin is not null)
                await process.StandardInput.BaseStream.WriteAsync(stdin, cancellationToken);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program exited without reading all its input; its output says why.
        }

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return new ProcessResult(command, timedOut ? -1 : process.ExitCode, await stdout, await stderr, timedOut);
    }

    internal static ProcessStartInfo CreateStartInfo(string fileName, IEnumerable<string> arguments, string? workingDirectory)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (workingDirectory is not null)
            startInfo.WorkingDirectory = workingDirectory;
        foreach (string argument in arguments)
            startInfo.ArgumentList.Add(argument);
        return startInfo;
    }

    internal static string Describe(ProcessStartInfo startInfo) =>
        startInfo.FileName + " " + string.Join(' ', startInfo.ArgumentList.Select(a => a.Contains(' ') ? $"'{a}'" : a));

    internal static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }
}
