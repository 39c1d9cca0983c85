using System.Text;
using Milter.TestKit;
using Milter.TestKit.Postfix;
using Milter.TestKit.Smtp;
using static Milter.Tests.TestKit.TestMail;

namespace Milter.Tests.TestKit;

public sealed class PostfixLifecycleTests
{
    [Fact]
    public async Task Two_instances_run_side_by_side_and_stop_by_pid()
    {
        var starting = new[] { PostfixInstance.StartAsync(), PostfixInstance.StartAsync(new PostfixOptions { SinkCountOnly = true }) };
        await Task.WhenAll(starting);
        var first = await starting[0];
        int masterPid;
        string dir;
        await using (var second = await starting[1])
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
    public async Task Sendmail_submissions_stay_deferred_until_the_queue_is_flushed()
    {
        int relayPort = FreePort.Next(); // nothing listens here yet
        var options = new PostfixOptions { StartSink = false, RelayPort = relayPort };
        // Retries only when asked: without FlushAsync the deferred message would wait an hour.
        options.MainCf["queue_run_delay"] = "3600s";
        options.MainCf["minimal_backoff_time"] = "3600s";
        options.MainCf["maximal_backoff_time"] = "3600s";
        await using var postfix = await PostfixInstance.StartAsync(options);
        var result = await postfix.SendmailAsync("alice@example.test", ["bob@example.org"], Message("local", "via sendmail\n"));
        result.EnsureSuccess("sendmail");

        await postfix.WaitForLogAsync("status=deferred", Wait);
        Assert.Equal(1, postfix.QueueCount());

        await using var sink = await SmtpSink.StartAsync(null, false, () => postfix.MaillogTail(), relayPort);
        Assert.Equal(0, await sink.CountAfterAsync(TimeSpan.FromMilliseconds(500)));
        await postfix.FlushAsync();
        string relayed = Encoding.ASCII.GetString(SmtpSink.StripSinkHeaders(Assert.Single(await sink.WaitForMessagesAsync(1, Wait))));
        Assert.EndsWith("\r\n\r\nvia sendmail\r\n", relayed);
        await postfix.WaitForEmptyQueueAsync(Wait);
    }

    [Fact]
    public async Task Whole_templates_replace_the_built_in_files()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            MainCfTemplate = PostfixConfig.DefaultMainCf().Replace("smtpd_banner = $myhostname ESMTP", "smtpd_banner = $myhostname ESMTP templated"),
            MasterCfTemplate = PostfixConfig.Master.Replace("smtpd\n", "smtpd -o smtpd_helo_required=yes\n"),
        });
        await using var client = await SmtpTestClient.ConnectAsync("127.0.0.1", postfix.SmtpdPort);
        Assert.Equal($"{postfix.Name}.localdomain ESMTP templated", client.Banner.Text);
        var mail = await client.CommandAsync("MAIL FROM:<a@example.test>");
        Assert.Equal(503, mail.Code); // helo required, set by the master.cf template
        var sent = await postfix.SendAsync("a@example.test", ["b@example.org"], Message("template", "t\r\n"));
        Assert.True(sent.Accepted, sent.Transcript);
        await postfix.Sink!.WaitForMessagesAsync(1, Wait);
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
}
