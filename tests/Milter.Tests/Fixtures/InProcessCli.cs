using System.Runtime.CompilerServices;
using System.Text;
using Milter.Commands;

namespace Milter.Tests.Fixtures;

/// <summary>
/// Runs `milter ARGS` inside the test process, many calls at once: <see cref="Program.Main"/> with this call's own
/// stdin, stdout and stderr. Text written to <see cref="Console.Out"/>/<see cref="Console.Error"/> reaches the
/// writers of the call whose async flow wrote it (the test process's console is routed once, at load); the
/// byte streams go through <see cref="CliStdio"/>. A process start of the CLI costs about 0.2 to 0.4 s of CPU
/// (runtime start and JIT); this costs milliseconds, which on a 2-core machine is most of the test command's time
/// for the CLI tests. What only a real process shows (exit status, pipes, the environment) is tested with
/// <see cref="MilterDaemon.RunCliProcessAsync"/>.
/// </summary>
public static class InProcessCli
{
    private static readonly AsyncLocal<(StringWriter Out, StringWriter Error)?> Writers = new();

    [ModuleInitializer]
    internal static void RouteConsole()
    {
        Console.SetOut(new RoutingWriter(Console.Out, () => Writers.Value?.Out));
        Console.SetError(new RoutingWriter(Console.Error, () => Writers.Value?.Error));
    }

    /// <summary>Commands that may run in process: they read nothing of the environment but their arguments and
    /// stdin, and hold no process-wide state (no host, no signal handlers, no child processes).</summary>
    private static readonly HashSet<string> Commands = ["check", "verify", "sign", "dmarc", "spf", "keygen", "testkey", "keys"];

    /// <summary>True when `milter ARGS` can run in process: one of <see cref="Commands"/>. Help and --version stay
    /// processes: they print the executable's name and version, which in process are the test host's.</summary>
    public static bool Supports(IReadOnlyList<string> args)
    {
        if (args.Any(a => a is "--help" or "-h" or "--version")) return false;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--dns") { i++; continue; }
            if (!args[i].StartsWith('-')) return Commands.Contains(args[i]);
        }
        return false;
    }

    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(IReadOnlyList<string> args, string? stdin, TimeSpan timeout)
    {
        var run = Task.Run(async () =>
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Writers.Value = (stdout, stderr);
            // As a process reads it: the test's string in UTF-8, as Process.StandardInput writes it.
            using var input = new MemoryStream(Encoding.UTF8.GetBytes(stdin ?? ""));
            using var output = new MemoryStream();
            CliStdio.UseInThisFlow(input, output);
            var code = await Program.Main([.. args]);
            return (code, stdout + Encoding.UTF8.GetString(output.ToArray()), stderr.ToString());
        });
        try
        {
            return await run.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"milter {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s (in process)");
        }
    }

    /// <summary>Writes to the current call's writer, or to the console it replaced outside any call.</summary>
    private sealed class RoutingWriter(TextWriter console, Func<TextWriter?> current) : TextWriter
    {
        public override Encoding Encoding => console.Encoding;
        private TextWriter Target => current() ?? console;
        public override void Write(char value) => Target.Write(value);
        public override void Write(string? value) => Target.Write(value);
        public override void Write(char[] buffer, int index, int count) => Target.Write(buffer, index, count);
        public override void WriteLine(string? value) => Target.WriteLine(value);
        public override void Flush() => Target.Flush();
        public override Task WriteAsync(string? value) => Target.WriteAsync(value);
        public override Task WriteLineAsync(string? value) => Target.WriteLineAsync(value);
        public override Task FlushAsync() => Target.FlushAsync();
    }
}
