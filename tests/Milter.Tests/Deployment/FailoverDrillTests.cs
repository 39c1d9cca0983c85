using System.Text;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Deployment;

/// <summary>
/// The failover drill of the deployment: a batch goes through the relay config while the active `milter run` is
/// killed (SIGKILL) part-way. While no Milter answers, Postfix refuses with 4xx (default_action=tempfail) and
/// never relays unsigned mail; mail submitted with sendmail meanwhile waits in Postfix. A standby started on the
/// same address with the same config takes over; the refused messages are sent again (as an SMTP client
/// retries), the queue is flushed, and every message of the batch arrives exactly once, signed exactly once.
/// </summary>
public sealed partial class FailoverDrillTests
{
    private const int Batch = 20;
    private const int KillBefore = 8;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Killing_the_active_milter_defers_mail_and_a_standby_on_the_same_address_signs_all_of_it()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var port = FreePort.Next();
        string[] args = ["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"];
        var active = await MilterDaemon.StartAsync(args);
        await using var postfix = await DeployedPostfix.StartAsync(DeployedPostfix.RelayEnvironment(port));

        var refused = new List<int>();
        MilterDaemon? standby = null;
        try
        {
            for (var i = 0; i < Batch; i++)
            {
                if (i == KillBefore) await active.KillAsync();
                if (i == KillBefore + 4)
                {
                    // While Milter is down, a message submitted with sendmail waits in Postfix.
                    var local = await postfix.SendmailAsync("alice@example.test", ["bob@example.org"], RelayConfigTests.Message("drill local"));
                    Assert.True(local.Succeeded, local.Describe());
                    standby = await MilterDaemon.StartAsync(args);
                }
                var sent = await postfix.SendAsync("alice@example.test", ["bob@example.org"], RelayConfigTests.Message($"drill {i}"));
                if (sent.Accepted) continue;
                Assert.True(i >= KillBefore && i < KillBefore + 4, $"message {i} refused while a milter ran:\n{sent.Transcript}");
                Assert.Matches(TempfailReply(), sent.Transcript);
                refused.Add(i);
            }
            Assert.Equal(Enumerable.Range(KillBefore, 4), refused);
            foreach (var i in refused)
            {
                var retry = await postfix.SendAsync("alice@example.test", ["bob@example.org"], RelayConfigTests.Message($"drill {i}"));
                Assert.True(retry.Accepted, retry.Transcript);
            }
            await postfix.FlushAsync();

            var files = await postfix.Sink!.WaitForMessagesAsync(Batch + 1, Wait);
            var subjects = new List<string>();
            foreach (var file in files)
            {
                var message = SmtpSink.StripSinkHeaders(file);
                var text = Encoding.UTF8.GetString(message);
                var headers = MailText.HeaderBlock(text);
                Assert.Equal(1, MailText.CountField(headers, "DKIM-Signature"));
                var verification = await DkimPy.VerifyAsync(message, lab.Dns.Port);
                Assert.True(verification.Pass, verification.Output + "\n" + text);
                subjects.Add(Regex.Match(headers, @"Subject: (drill [^\r]+)").Groups[1].Value);
            }
            var expected = Enumerable.Range(0, Batch).Select(i => $"drill {i}").Append("drill local").Order();
            Assert.Equal(expected, subjects.Order());
            Assert.Equal(Batch + 1, await postfix.Sink.CountAfterAsync(TimeSpan.FromSeconds(2)));
        }
        finally
        {
            await active.DisposeAsync();
            if (standby is not null) await standby.DisposeAsync();
        }
    }

    [GeneratedRegex(@"S: 4\d\d 4\.\d+\.\d+ ")]
    private static partial Regex TempfailReply();
}
