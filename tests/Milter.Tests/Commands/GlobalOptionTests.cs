using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>Issue 20 item 1: the global --dns is accepted before the command name as well as after it (it was
/// "unknown command '--dns'" before), and the servers it names are the ones asked.</summary>
[Collection(DmarcCliCollection.Name)]
public sealed class GlobalOptionTests(DmarcCliFixture lab)
{
    [Fact]
    public async Task Dns_before_the_command_name_is_used()
    {
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync([.. lab.DnsArgs, "dmarc", "--domain", "org.dmarctld"]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("record: " + DmarcCliFixture.OrgRecord + "\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dns_after_the_command_name_is_used_wherever_it_stands()
    {
        foreach (var args in new[]
                 {
                     ["dmarc", .. lab.DnsArgs, "--domain", "org.dmarctld"],
                     new[] { "dmarc", "--domain", "org.dmarctld", $"--dns=127.0.0.1:{lab.Knot.Port}" },
                 })
        {
            var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(args);
            Assert.True(code == 0, string.Join(' ', args) + ": " + stdout + stderr);
            Assert.Contains("record: " + DmarcCliFixture.OrgRecord + "\n", stdout, StringComparison.Ordinal);
        }
    }
}
