using System.Text;
using Milter.TestKit;
using Milter.TestKit.Postfix;
using Milter.Tests.Fixtures;

namespace Milter.Tests.EndToEnd;

/// <summary>A real Postfix sending through a real `milter run` to its smtp-sink.</summary>
public sealed class PostfixSpineTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static byte[] Message(string subject, string extraHeaders = "") => Encoding.ASCII.GetBytes(
        $"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n{extraHeaders}" +
        $"Message-ID: <{Guid.NewGuid():N}@example.test>\r\n\r\nHello\r\n");

    private static string Relayed(byte[] file) => Encoding.ASCII.GetString(SmtpSink.StripSinkHeaders(file));


    [Theory]
    [InlineData("inet")]
    [InlineData("unix")]
    public async Task Mail_gets_our_header_then_tempfails_while_milter_is_down_then_flows_after_restart(string transport)
    {
        using var dir = new TempDir("milter-e2e");
        string listen, postfixSpec;
        if (transport == "inet")
        {
            var port = FreePort.Next();
            listen = $"inet:{port}@127.0.0.1";
            postfixSpec = $"inet:127.0.0.1:{port}";
        }
        else
        {
            var socket = dir.File("milter.sock");
            listen = "unix:" + socket;
            postfixSpec = "unix:" + socket;
        }
        var env = new Dictionary<string, string> { ["MILTER_AuthservId"] = "mx.e2e.test", ["MILTER_Server__UnixSocketMode"] = "0666" };
        var daemon = await MilterDaemon.StartAsync(["--listen", listen], env);
        try
        {
            await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
            {
                SmtpdMilters = $"{{ {postfixSpec}, default_action=tempfail, command_timeout=10s, connect_timeout=3s }}",
            });

            // 1. Through the milter: one Authentication-Results with our id, forged one with our id removed,
            //    another authserv-id's header kept.
            var forged = "Authentication-Results: mx.e2e.test; dkim=pass header.d=evil.example\r\n" +
                         "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@example.test\r\n";
            var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("first", forged));
            Assert.True(sent.Accepted, sent.Transcript + "\n" + daemon.Output);
            var headers = MailText.HeaderBlock(Relayed(Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait))));
            var ours = headers.Split("\r\n").Where(l => l.StartsWith("Authentication-Results: mx.e2e.test", StringComparison.Ordinal)).ToList();
            Assert.Equal(["Authentication-Results: mx.e2e.test; none"], ours);
            Assert.Contains("Authentication-Results: other.example; spf=pass", headers, StringComparison.Ordinal);
            Assert.DoesNotContain("evil.example", headers, StringComparison.Ordinal);
            Assert.True(await daemon.WaitForOutputAsync("verdict=continue", Wait), daemon.Output);

            // 2. Milter down: Postfix answers 4xx and delivers nothing.
            Assert.Equal(0, await daemon.StopAsync());
            var refused = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("while down"));
            Assert.False(refused.Accepted, refused.Transcript);
            Assert.True(refused.FirstFailure!.Reply.IsTransientFailure, refused.Transcript);
            Assert.Equal(1, await postfix.Sink.CountAfterAsync(TimeSpan.FromSeconds(1)));
            Assert.Equal(0, postfix.QueueCount());

            // 3. Restarted: the next message goes through again, with our header.
            daemon = await MilterDaemon.StartAsync(["--listen", listen], env);
            var again = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("after restart"));
            Assert.True(again.Accepted, again.Transcript + "\n" + daemon.Output);
            var files = await postfix.Sink.WaitForMessagesAsync(2, Wait);
            Assert.Contains(files.Select(Relayed), m => m.Contains("Subject: after restart", StringComparison.Ordinal)
                && m.Contains("Authentication-Results: mx.e2e.test; none", StringComparison.Ordinal));
        }
        finally
        {
            await daemon.DisposeAsync();
        }
    }
}
