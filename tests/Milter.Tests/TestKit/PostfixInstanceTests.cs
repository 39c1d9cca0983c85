using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.TestKit;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;

namespace Milter.Tests.TestKit;

public sealed class PostfixInstanceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static byte[] Message(string subject, string body) => Encoding.ASCII.GetBytes(
        $"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n" +
        $"Message-ID: <{Guid.NewGuid():N}@example.test>\r\n\r\n{body}");

    [Fact]
    public async Task A_message_without_a_milter_arrives_in_the_sink_intact()
    {
        await using var postfix = await PostfixInstance.StartAsync();
        string body = "Line one\r\n.starts with a dot\r\n..two dots\r\nlast line\r\n";
        var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("plain", body));
        Assert.True(sent.Accepted, sent.Transcript);

        var files = await postfix.Sink!.WaitForMessagesAsync(1, Wait);
        string raw = Encoding.ASCII.GetString(Assert.Single(files));
        Assert.StartsWith("X-Client-Addr: 127.0.0.1\n", raw);
        string relayed = Encoding.ASCII.GetString(SmtpSink.StripSinkHeaders(files[0]));
        Assert.StartsWith("Received: from client.example.test", relayed);
        Assert.Contains($"by {postfix.Name}.localdomain (Postfix)", relayed);
        Assert.Contains("\r\nSubject: plain\r\n", relayed);
        Assert.EndsWith("\r\n\r\n" + body, relayed);
        await postfix.WaitForEmptyQueueAsync(Wait);
        Assert.Equal(0, postfix.QueueCount());
    }

    [Fact]
    public async Task An_unreachable_milter_with_tempfail_refuses_and_nothing_arrives()
    {
        int deadPort = FreePort.Next(); // nothing listens here
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{deadPort}, default_action=tempfail, command_timeout=5s, connect_timeout=2s }}",
        });
        var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("milter down", "body\r\n"));

        Assert.False(sent.Accepted, sent.Transcript);
        var failure = sent.FirstFailure;
        Assert.NotNull(failure);
        Assert.True(failure.Reply.IsTransientFailure, sent.Transcript);
        Assert.Equal(0, await postfix.Sink!.CountAfterAsync(TimeSpan.FromSeconds(1)));
        Assert.Equal(0, postfix.QueueCount());
        Assert.Contains($"127.0.0.1:{deadPort}", postfix.MaillogTail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Xclient_changes_the_client_seen_by_postfix()
    {
        await using var postfix = await PostfixInstance.StartAsync();
        var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], Message("xclient", "hi\r\n"),
            new XClientAttributes(Addr: "192.0.2.55", Name: "mail.example.test", Helo: "mail.example.test"));
        Assert.True(sent.Accepted, sent.Transcript);
        Assert.Equal(220, sent.ReplyTo("XCLIENT")!.Code);
        var file = Assert.Single(await postfix.Sink!.WaitForMessagesAsync(1, Wait));
        string relayed = Encoding.ASCII.GetString(SmtpSink.StripSinkHeaders(file));
        Assert.StartsWith("Received: from mail.example.test (mail.example.test [192.0.2.55])", relayed);
    }

    [Fact]
    public async Task Two_instances_run_side_by_side_and_stop_by_pid()
    {
        var first = await PostfixInstance.StartAsync();
        int masterPid;
        string dir;
        await using (var second = await PostfixInstance.StartAsync(new PostfixOptions { SinkCountOnly = true }))
        {
            Assert.NotEqual(first.SmtpdPort, second.SmtpdPort);
            Assert.NotEqual(first.Name, second.Name);
            Assert.NotEqual(first.MasterPid, second.MasterPid);
            var sent = await second.SendAsync("a@example.test", ["b@example.org", "c@example.org"], Message("count", "x\r\n"));
            Assert.True(sent.Accepted, sent.Transcript);
            await second.Sink!.WaitForCountAsync(1, Wait);
            Assert.Empty(second.Sink.MessageFiles);
            masterPid = second.MasterPid;
            dir = second.BaseDirectory;
        }
        Assert.False(UnixProcess.IsAlive(masterPid));
        Assert.False(Directory.Exists(dir));
        Assert.Empty(first.Sink!.MessageFiles);

        await first.DisposeAsync();
        Assert.False(UnixProcess.IsAlive(first.MasterPid));
        Assert.False(await PortProbe.CanConnectAsync(first.SmtpdEndPoint, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Sendmail_submissions_are_relayed_and_the_queue_can_be_flushed()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { StartSink = false, RelayPort = FreePort.Next() });
        var result = await postfix.SendmailAsync("alice@example.test", ["bob@example.org"], Message("local", "via sendmail\n"));
        result.EnsureSuccess("sendmail");

        // Nothing listens on the relay port: the message is deferred and stays queued.
        var deadline = DateTime.UtcNow + Wait;
        while (!postfix.MaillogTail().Contains("status=deferred", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Contains("status=deferred", postfix.MaillogTail(), StringComparison.Ordinal);
        Assert.Equal(1, postfix.QueueCount());
        await postfix.FlushAsync();
    }

    [Fact]
    public async Task Extra_main_cf_text_is_applied_and_a_bad_setting_fails_with_the_log()
    {
        await using (var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            ExtraMainCf = "smtpd_banner = $myhostname ESMTP from-extra-text",
        }))
        {
            await using var client = await SmtpTestClient.ConnectAsync("127.0.0.1", postfix.SmtpdPort);
            Assert.Contains("from-extra-text", client.Banner.Text);
        }

        var options = new PostfixOptions();
        options.MainCf["inet_interfaces"] = "192.0.2.1"; // not on this machine: smtpd cannot bind
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => PostfixInstance.StartAsync(options));
        Assert.Contains("192.0.2.1", error.Message);
    }

    [Fact]
    public void Data_is_dot_stuffed_with_crlf_line_ends()
    {
        var encoded = Encoding.ASCII.GetString(SmtpTestClient.EncodeData("a\n.b\r\n..c\rd"u8));
        Assert.Equal("a\r\n..b\r\n...c\r\nd\r\n.\r\n", encoded);
    }

    [Fact]
    public async Task The_smtp_client_reports_a_refusal_as_a_reply_not_an_exception()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            await using var writer = new StreamWriter(stream, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
            await writer.WriteLineAsync("220-fake");
            await writer.WriteLineAsync("220 ready");
            Assert.StartsWith("EHLO", await reader.ReadLineAsync());
            await writer.WriteLineAsync("250-fake\r\n250 8BITMIME");
            Assert.Equal("MAIL FROM:<a@example.test>", await reader.ReadLineAsync());
            await writer.WriteLineAsync("451 4.7.1 try later");
            Assert.Equal("QUIT", await reader.ReadLineAsync());
            await writer.WriteLineAsync("221 bye");
        });
        var result = await SmtpTestClient.SendAsync("127.0.0.1", port, "a@example.test", ["b@example.org"], "x"u8.ToArray());
        await server;
        listener.Stop();
        Assert.Equal("fake\nready", result.Steps[0].Reply.Text);
        Assert.Equal(451, result.ReplyTo("MAIL")!.Code);
        Assert.Null(result.ReplyTo("RCPT"));
        Assert.False(result.Accepted);
    }
}
