using System.Text;
using Milter.TestKit;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using static Milter.Tests.TestKit.TestMail;

namespace Milter.Tests.TestKit;

public sealed class PostfixInstanceTests
{
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
}
