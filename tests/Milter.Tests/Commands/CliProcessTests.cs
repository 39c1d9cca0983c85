using System.Text;
using System.Text.RegularExpressions;
using Milter.TestKit.Peers;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Commands;

/// <summary>
/// The CLI tests run most commands inside the test process (<see cref="InProcessCli"/>, through
/// <see cref="MilterDaemon.RunCliAsync"/>). These run the same commands as the real executable, with real
/// pipes and exit status, and require the very same exit code, stdout and stderr, so the in-process runs
/// stand for the process.
/// </summary>
[Collection(CliKeysCollection.Name)]
public sealed partial class CliProcessTests(CliKeysFixture keys)
{
    private const string Unsigned = "From: a@example.com\nTo: b@example.org\nSubject: x\n\nhi\n";

    public static TheoryData<string[], string?> Commands() => new()
    {
        { ["verify", "--jsn"], null },
        { ["spf", "--helo", "h.test", "--ip"], null },
        { ["verify", "--json"], Unsigned },
        { ["verify"], Unsigned },
        { ["verify"], "" },
        { ["verify"], "not a message\n" },
        { ["sign", "--domain", "cli.test", "--selector", "s", "--key", "/nonexistent/key.pem"], Unsigned },
        { ["check", "--client-ip", "not-an-ip", "--helo", "h.test", "--mail-from", "a@example.com"], Unsigned },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task The_executable_and_the_in_process_run_give_the_same_answer(string[] args, string? stdin)
    {
        Assert.True(InProcessCli.Supports(args), "the in-process runner should take: milter " + string.Join(' ', args));
        var process = await MilterDaemon.RunCliProcessAsync(args, stdin);
        var inProcess = await MilterDaemon.RunCliAsync(args, stdin);
        Assert.Equal(process, inProcess);
    }

    /// <summary>`sign` writes bytes, not text, to stdout: through a real pipe they are the same bytes (but the
    /// signature's t= and so its b=), and dkimpy verifies them.</summary>
    [Fact]
    public async Task Sign_writes_the_same_signed_message_to_a_real_pipe()
    {
        string[] args = ["sign", "--domain", CliKeysFixture.Domain, "--selector", "rsa1", "--key", keys.PrivateKey("rsa1")];
        var message = "From: Alice <alice@cli.test>\nTo: bob@example.org\nSubject: pipes\n\nHello \u00e9t\u00e9\n";
        var process = await MilterDaemon.RunCliProcessAsync(args, message);
        var inProcess = await MilterDaemon.RunCliAsync(args, message);
        Assert.True(process.ExitCode == 0, process.StdErr);
        Assert.Equal(0, inProcess.ExitCode);
        Assert.Equal(TimeAndSignature().Replace(process.StdOut, ""), TimeAndSignature().Replace(inProcess.StdOut, ""));
        var verification = await DkimPy.VerifyAsync(Encoding.UTF8.GetBytes(process.StdOut), keys.Knot.Port);
        Assert.True(verification.Pass, verification.Output);
    }

    [GeneratedRegex(@"\b(t=\d+|b=[A-Za-z0-9+/=\s]+)")]
    private static partial Regex TimeAndSignature();
}
