using System.Text;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.Tests.Fixtures;
using Xunit.Abstractions;

namespace Milter.Tests.EndToEnd;

/// <summary>
/// The standby drill: an internal mail server (a Postfix that queues) relays a batch through the signing relay
/// (a Postfix with Milter). The active Milter is killed with SIGKILL mid-stream; the relay must answer 4xx (so the
/// internal server keeps the mail queued) instead of passing unsigned mail; a standby started on the same
/// address with the same config takes over; after a queue flush every message arrives exactly once, signed once.
/// </summary>
public sealed class FailoverDrillTests(ITestOutputHelper output)
{
    private const int Batch = 40;

    [Fact]
    public async Task Killing_the_active_milter_mid_batch_defers_mail_and_the_standby_delivers_all_of_it_signed_once()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var port = FreePort.Next();
        var listen = new[] { "--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1" };
        var active = await MilterDaemon.StartAsync(listen);
        MilterDaemon? standby = null;
        try
        {
            await using var relay = await PostfixInstance.StartAsync(new PostfixOptions
            {
                SmtpdMilters = $"{{ inet:127.0.0.1:{port}, default_action=tempfail, command_timeout=10s, connect_timeout=2s }}",
            });
            await using var internalServer = await PostfixInstance.StartAsync(new PostfixOptions
            {
                StartSink = false,
                RelayPort = relay.SmtpdPort,
            });

            for (var i = 0; i < Batch; i++)
            {
                var message = Encoding.ASCII.GetBytes(
                    $"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: drill {i:D3}\r\n" +
                    $"Message-ID: <drill-{i:D3}@example.test>\r\n\r\nmessage {i}\r\n");
                var sent = await internalServer.SendAsync("alice@example.test", ["bob@example.org"], message);
                Assert.True(sent.Accepted, sent.Transcript); // the internal server always queues
                if (i == Batch / 4)
                {
                    // Mid-stream: wait until some mail went through, then the active milter dies at once.
                    await relay.Sink!.WaitForCountAsync(3, TimeSpan.FromSeconds(30));
                    await active.KillAsync();
                }
            }

            // While no milter runs, the relay defers: nothing more arrives unsigned.
            var deliveredWhileDown = await relay.Sink!.CountAfterAsync(TimeSpan.FromSeconds(3));
            Assert.True(deliveredWhileDown < Batch, $"{deliveredWhileDown} of {Batch} delivered while the milter was down");
            Assert.True(internalServer.QueueCount() > 0, "the internal server should hold the deferred mail");
            Assert.Contains("status=deferred", await File.ReadAllTextAsync(internalServer.MaillogPath), StringComparison.Ordinal);

            // The standby takes over the same address with the same config; the queue is flushed.
            standby = await MilterDaemon.StartAsync(listen);
            await internalServer.FlushAsync();
            var files = await relay.Sink.WaitForMessagesAsync(Batch, TimeSpan.FromSeconds(90));
            await internalServer.WaitForEmptyQueueAsync(TimeSpan.FromSeconds(30));

            var messages = files.Select(f => Encoding.ASCII.GetString(SmtpSink.StripSinkHeaders(f))).ToList();
            var subjects = messages.Select(m => Regex.Match(m, @"Subject: (drill \d+)").Groups[1].Value).ToList();
            Assert.Equal(Batch, subjects.Distinct().Count());
            Assert.Equal(Batch, messages.Count);
            foreach (var m in messages)
            {
                var header = MailText.HeaderBlock(m);
                Assert.True(MailText.CountField(header, "DKIM-Signature") == 1, header);
            }
            foreach (var f in files.Take(3).Concat(files.TakeLast(3)))
            {
                var verification = await DkimPy.VerifyAsync(SmtpSink.StripSinkHeaders(f), lab.Dns.Port);
                Assert.True(verification.Pass, verification.Output);
            }
            output.WriteLine($"batch {Batch}: {deliveredWhileDown} delivered before/while the active milter died, " +
                             $"{Batch - deliveredWhileDown} deferred and delivered through the standby; {messages.Count} arrived, each signed once");
        }
        finally
        {
            await active.DisposeAsync();
            if (standby is not null) await standby.DisposeAsync();
        }
    }
}
