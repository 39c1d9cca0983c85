using System.Diagnostics;
using System.Net;
using Milter.Protocol.Server;

namespace Milter.Protocol.Tests;

/// <summary>Cross-check with an independent MTA side: OpenDKIM's miltertest (libmilter's protocol code)
/// drives our server. Fails (never skips) when miltertest is missing.</summary>
public sealed class MiltertestInteropTests
{
    private const string Miltertest = "/usr/bin/miltertest";

    private sealed class TagHandler : MilterHandlerBase
    {
        public override MilterCapabilities Capabilities { get; } = new() { HeaderLeadingSpace = false };

        public override ValueTask<MilterResponse> OnRcptToAsync(MilterContext context, string recipient, IReadOnlyList<string> esmtpArgs, CancellationToken ct)
            => new(recipient.Contains("reject", StringComparison.Ordinal) ? MilterResponse.Reply("550", "5.7.1", "no such user") : MilterResponse.Continue);

        public override ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken ct)
        {
            modifier.InsertHeader(0, "X-Milter-Test", $"queue {context.GetMacro("i")}");
            return MilterResponse.ContinueTask;
        }
    }

    [Fact]
    public async Task Miltertest_runs_a_message_through_the_server()
    {
        Assert.True(File.Exists(Miltertest), "miltertest is not installed (Debian package 'miltertest'); this interop test needs it");
        await using var server = new MilterServer(new MilterServerOptions(), () => new TagHandler(), new ListLoggerFactory());
        await server.StartAsync([ListenSpec.Parse("inet:0@127.0.0.1")], CancellationToken.None);
        var port = ((IPEndPoint)server.EndPoints[0]).Port;
        var script = Path.Combine(Path.GetTempPath(), $"milter-mt-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, $$"""
            conn = mt.connect("inet:{{port}}@127.0.0.1", 5, 0.2)
            if conn == nil then error "connect failed" end
            if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then error "conninfo failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "conninfo reply" end
            if mt.helo(conn, "client.example") ~= nil then error "helo failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "helo reply" end
            mt.macro(conn, SMFIC_MAIL, "i", "QID42")
            if mt.mailfrom(conn, "<a@example.org>") ~= nil then error "mailfrom failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "mailfrom reply" end
            if mt.rcptto(conn, "<reject@example.net>") ~= nil then error "rcptto failed" end
            if mt.getreply(conn) ~= SMFIR_REPLYCODE then error "rcpt reject reply" end
            if mt.rcptto(conn, "<b@example.net>") ~= nil then error "rcptto failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "rcptto reply" end
            if mt.header(conn, "From", "a@example.org") ~= nil then error "header failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "header reply" end
            if mt.eoh(conn) ~= nil then error "eoh failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "eoh reply" end
            if mt.bodystring(conn, "Hello\r\n") ~= nil then error "body failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "body reply" end
            if mt.eom(conn) ~= nil then error "eom failed" end
            if mt.getreply(conn) ~= SMFIR_CONTINUE then error "eom reply" end
            if not mt.eom_check(conn, MT_HDRINSERT, "X-Milter-Test", "queue QID42") then error "header not inserted" end
            mt.disconnect(conn)
            mt.echo("OK")
            """);
        try
        {
            var psi = new ProcessStartInfo(Miltertest, ["-s", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await p.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill();
                throw;
            }
            var output = await stdout + await stderr;
            Assert.True(p.ExitCode == 0, $"miltertest exited {p.ExitCode}: {output}");
            Assert.Contains("OK", output);
        }
        finally
        {
            File.Delete(script);
        }
    }
}
