using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Packaging;

/// <summary>
/// `milter run` under systemd (packaging/systemd/milter.service, Type=notify) without systemd: .NET's
/// systemd support counts a process as a systemd service when its parent's name is "systemd", so the test
/// starts the daemon from a shell linked under that name, with NOTIFY_SOCKET a Unix datagram socket the test
/// binds (the sd_notify protocol). Outside systemd nothing changes: our own timestamped log lines and no
/// notification, even with NOTIFY_SOCKET in the environment.
/// </summary>
public sealed partial class SystemdNotifyTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const int SigHup = 1;

    [Fact]
    public async Task Under_systemd_sends_READY_and_STOPPING_and_logs_with_journald_priorities()
    {
        using var dir = new TempDir("milter-notify");
        using var notify = Bind(dir.File("notify.sock"));
        string fakeSystemd = dir.File("systemd");
        File.CreateSymbolicLink(fakeSystemd, "/bin/sh");
        // "; exit $?" keeps the shell alive as the daemon's parent (a last command alone would be exec'd).
        string script = $"exec 2>&1; dotnet '{MilterDaemon.MilterDll}' run --listen 'unix:{dir.File("milter.sock")}'; exit $?";
        var psi = new ProcessStartInfo(fakeSystemd) { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.Environment["NOTIFY_SOCKET"] = dir.File("notify.sock");
        psi.Environment["MILTER_Reports__DataDirectory"] = dir.Sub("data");
        using var shell = Process.Start(psi) ?? throw new InvalidOperationException("sh did not start");
        var output = new StringBuilder();
        shell.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        shell.BeginOutputReadLine();
        try
        {
            Assert.Contains("READY=1", await ReceiveAsync(notify, () => Text(output)));
            int daemon = Assert.Single(UnixProcess.Children(shell.Id));
            Assert.True(UnixProcess.Signal(daemon, SigHup), "the daemon is gone");
            await WaitForAsync(output, "reload: config");
            // The systemd console formatter: "<6>" (info) before the category, no timestamp (journald adds it).
            Assert.True(Regex.IsMatch(Text(output), @"(?m)^<6>\S+\[\d+\] reload: config"), Text(output));
            Assert.True(UnixProcess.Signal(daemon, UnixProcess.SigTerm), "the daemon is gone");
            Assert.Contains("STOPPING=1", await ReceiveAsync(notify, () => Text(output)));
            using var cts = new CancellationTokenSource(Wait);
            await shell.WaitForExitAsync(cts.Token);
            Assert.Equal(0, shell.ExitCode);
        }
        finally
        {
            if (!shell.HasExited) shell.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Outside_systemd_logs_keep_their_timestamp_and_nothing_is_notified()
    {
        using var dir = new TempDir("milter-notify");
        using var notify = Bind(dir.File("notify.sock"));
        await using var daemon = await MilterDaemon.StartAsync(["--listen", $"unix:{dir.File("milter.sock")}"],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = dir.File("notify.sock") });
        Assert.Matches(TimestampedLine(), daemon.Output.Split('\n')[0]);
        Assert.DoesNotContain("<6>", daemon.Output, StringComparison.Ordinal);
        Assert.Equal(0, await daemon.StopAsync());
        Assert.Equal(0, notify.Available);
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")]
    private static partial Regex TimestampedLine();

    private static Socket Bind(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private static async Task<string> ReceiveAsync(Socket socket, Func<string> output)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(Wait);
        try
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no sd_notify datagram within {Wait}; output:\n{output()}");
        }
    }

    private static async Task WaitForAsync(StringBuilder output, string text)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!Text(output).Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no '{text}' within {Wait}; output:\n{Text(output)}");
            await Task.Delay(100);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output) return output.ToString();
    }
}
