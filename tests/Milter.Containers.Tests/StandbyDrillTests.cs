using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Xunit.Abstractions;

namespace Milter.Containers.Tests;

/// <summary>
/// The standby drill in containers: compose runs the active pair (postfix + milter) and the standby pair
/// (postfix-standby + milter-standby). An "internal server" Postfix on the host queues a batch of 40 messages
/// and relays them to the active relay, with the standby as its fallback relay. Part-way, the active Milter
/// container's process is killed (SIGKILL, as a crash). The active Postfix answers 4xx and relays nothing
/// unsigned; the internal server falls back to the standby (or the active Milter comes back by its restart
/// policy); every message arrives exactly once, signed exactly once.
/// </summary>
[Collection(ContainersCollection.Name)]
public sealed partial class StandbyDrillTests(LabImages images, ITestOutputHelper output)
{
    private const int Batch = 40;
    private const int KillAfter = 15;
    private static readonly TimeSpan Healthy = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Arrive = TimeSpan.FromSeconds(120);
    private readonly LabImages _images = images;

    [Fact]
    public async Task Killing_the_active_milter_mid_batch_loses_nothing_and_relays_nothing_unsigned()
    {
        await using var lab = await ComposeLab.CreateAsync();
        string[] services = ["milter", "postfix", "milter-standby", "postfix-standby"];
        var up = await lab.UpAsync(new Dictionary<string, string>(), services);
        Assert.True(up.Succeeded, up.Describe());
        foreach (string service in services) await lab.WaitHealthyAsync(service, Healthy);

        var options = new PostfixOptions { StartSink = false, RelayPort = lab.SmtpPort };
        options.MainCf["smtp_fallback_relay"] = $"[127.0.0.1]:{lab.StandbySmtpPort}";
        await using var internalServer = await PostfixInstance.StartAsync(options);

        for (int i = 0; i < KillAfter; i++) await SubmitAsync(internalServer, i);
        await lab.WaitForMessagesAsync(KillAfter, Arrive, services);

        int pid = int.Parse(await Podman.OutputAsync("inspect", "--format", "{{.State.Pid}}", lab.Container("milter")), CultureInfo.InvariantCulture);
        Assert.True(UnixProcess.Signal(pid, UnixProcess.SigKill), $"could not kill pid {pid}");
        var sinceKill = Stopwatch.StartNew();
        for (int i = KillAfter; i < Batch; i++) await SubmitAsync(internalServer, i);
        while (lab.Sink.MessagesReceived == KillAfter && sinceKill.Elapsed < Arrive) await Task.Delay(20);
        var flowedAgain = sinceKill.Elapsed;

        var files = await lab.WaitForMessagesAsync(Batch, Arrive, services);
        await internalServer.WaitForEmptyQueueAsync(Arrive);
        Assert.Equal(Batch, await lab.Sink.CountAfterAsync(TimeSpan.FromSeconds(3)));

        var relayed = files.Select(Mail.Relayed).ToList();
        var subjects = relayed.Select(m => SubjectLine().Match(Mail.Headers(m)).Groups[1].Value).Order().ToList();
        Assert.Equal(Enumerable.Range(0, Batch).Select(Subject).Order(), subjects);
        Assert.All(relayed, m => Assert.Equal(1, Mail.Count(Mail.Headers(m), "DKIM-Signature")));
        var keys = new Dictionary<string, string> { [$"{ComposeLab.Selector}._domainkey.{ComposeLab.Domain}"] = lab.KeyRecord };
        var verdicts = await DkimPy.VerifyBatchAsync([.. relayed.Select(m => (m, (IReadOnlyDictionary<string, string>)keys))]);
        Assert.All(verdicts, v => Assert.True(v.Pass, v.Output));

        string log = File.ReadAllText(internalServer.MaillogPath);
        int refused = Regex.Count(log, $@"host 127\.0\.0\.1\[127\.0\.0\.1\](:{lab.SmtpPort})? said: 4\d\d");
        int deferred = DeferredQueueId().Matches(log).Select(m => m.Groups[1].Value).Distinct().Count();
        int viaStandby = Regex.Count(log, $@"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{lab.StandbySmtpPort}, .*status=sent");
        string milterState = await Podman.StateAsync(lab.Container("milter"));
        string postfixLog = await Podman.LogsAsync(lab.Container("postfix"));
        Assert.True(refused + deferred > 0 || viaStandby > 0, "the kill changed nothing?\n" + log);
        string figures = $"standby drill: {Batch} messages, milter killed after {KillAfter}; 4xx answers from the active relay {refused}, " +
            $"messages deferred at least once {deferred}, relayed by the standby {viaStandby}, by the active {Batch - viaStandby}; " +
            $"mail flowed again {Figures.Seconds(flowedAgain)} after the kill; active milter afterwards: {milterState}";
        Figures.Add(figures);
        output.WriteLine(figures);
        output.WriteLine(string.Join('\n', log.Split('\n').Where(l => l.Contains("status=deferred", StringComparison.Ordinal) || l.Contains(" said: 4", StringComparison.Ordinal)).Take(8)));
        output.WriteLine(string.Join('\n', postfixLog.Split('\n').Where(l => l.Contains("milter", StringComparison.OrdinalIgnoreCase)).Take(5)));
    }

    private static string Subject(int i) => $"drill {i:00}";

    private static async Task SubmitAsync(PostfixInstance internalServer, int i)
    {
        var sent = await internalServer.SendAsync("you@example.test", ["someone@example.org"], Mail.Message(Subject(i)));
        Assert.True(sent.Accepted, sent.Transcript);
    }

    [GeneratedRegex(@" ([0-9A-F]{6,}): to=.*status=deferred")]
    private static partial Regex DeferredQueueId();

    [GeneratedRegex(@"Subject: (drill \d+)")]
    private static partial Regex SubjectLine();
}
