using System.Net;
using System.Text;
using Milter.Commands;
using Milter.Configuration;
using Milter.MailAuth.Inbound;
using Milter.Tests.Commands;
using Milter.Tests.Fixtures;
using Xunit.Abstractions;

namespace Milter.Tests.Filter;

/// <summary>
/// One inbound pipeline, two front doors: the same 50 messages through the filter (in process, fed as milter
/// callbacks) and through `milter check` (its evaluation in process for all of them, the real executable for a
/// few) must give the same Authentication-Results, byte for byte, against the records Knot serves.
/// </summary>
[Collection(DmarcCliCollection.Name)]
public sealed class FrontDoorEqualityTests(DmarcCliFixture lab, ITestOutputHelper output)
{
    private const string Allowed = "192.0.2.10", Foreign = "203.0.113.9";

    /// <summary>Author domains: p=reject, its subdomain (sp=quarantine), p=none, p=quarantine strict, a PSD policy only,
    /// no DMARC anywhere, a non-existent subdomain (np=reject), two records (permerror).</summary>
    private static readonly string[] Authors =
        ["org.dmarctld", "sub.org.dmarctld", "lax.dmarctld", "quar.dmarctld", "psdonly.dmarctld", "plain.nodmarc", "nx.org.dmarctld", "dup.org.dmarctld"];

    /// <summary>SPF pass, fail, softfail, neutral, permerror, the null sender (HELO identity) passing and failing, none,
    /// an address without angle brackets, a redirect.</summary>
    private static readonly (string Ip, string MailFrom)[] Envelopes =
    [
        (Allowed, "<bounce@org.dmarctld>"), (Foreign, "<alice@org.dmarctld>"), (Allowed, "<x@soft.org.dmarctld>"),
        (Allowed, "<x@neutral.org.dmarctld>"), (Allowed, "<x@perm.org.dmarctld>"), (Allowed, "<>"), (Foreign, "<>"),
        (Allowed, "<x@none.nodmarc>"), (Allowed, "bounce@plain.nodmarc"), (Allowed, "< x@redir.org.dmarctld >"),
    ];

    public sealed record Case(int Number, string Ip, string Helo, string MailFrom, string Message)
    {
        public override string ToString() => $"#{Number} client={Ip} helo={Helo} from={MailFrom}";
    }

    private IEnumerable<Case> Cases()
    {
        for (var i = 0; i < 45; i++)
        {
            var author = Authors[i % Authors.Length];
            var (ip, mailFrom) = Envelopes[(i * 3) % Envelopes.Length];
            var helo = i % 5 == 4 ? "nohelo.dmarctld" : "mail.org.dmarctld";
            yield return new Case(i, ip, helo, mailFrom, Signed(i % 7, Message(i, $"From: Alice <alice@{author}>\r\n"), author));
        }
        string[] odd =
        [
            "",                                                                   // no From
            "From: alice@org.dmarctld\r\nFrom: eve@org.dmarctld\r\n",             // two From fields
            "From: alice@org.dmarctld, eve@lax.dmarctld\r\n",                     // two addresses
            "From: not an address\r\n",                                           // no mailbox
            "From: =?utf-8?q?J=C3=B6rg?= <j@org.dmarctld>\r\n",                   // encoded display name, Ed25519-signed
        ];
        for (var k = 0; k < odd.Length; k++)
            yield return new Case(45 + k, Allowed, "mail.org.dmarctld", "<bounce@org.dmarctld>", Signed(k == 4 ? 2 : k % 2, Message(45 + k, odd[k]), "org.dmarctld"));
    }

    private static string Message(int i, string from) =>
        from +
        $"To: Bob <bob@example.net>\r\nSubject: front door {i}\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <door-{i}@example.net>\r\n" +
        (i % 4 == 0 ? "X-Folded: a header\r\n\tthat is folded\r\n" : "") +
        "\r\n" + string.Concat(Enumerable.Repeat($"Line {i} of the body.\r\n", 1 + (i * 37 % 200)));

    /// <summary>0 unsigned; 1 RSA d=org; 2 Ed25519 d=org; 3 RSA d=other (not aligned); 4 RSA d=org then the body changed;
    /// 5 RSA and Ed25519 d=org; 6 RSA d=the author domain (no key published for most).</summary>
    private string Signed(int how, string message, string author) => how switch
    {
        1 => lab.Sign(message, "org.dmarctld"),
        2 => lab.Sign(message, "org.dmarctld", "ed"),
        3 => lab.Sign(message, "other.dmarctld"),
        4 => lab.Sign(message, "org.dmarctld") + "A line added in transit.\r\n",
        5 => lab.Sign(lab.Sign(message, "org.dmarctld"), "org.dmarctld", "ed"),
        6 => lab.Sign(message, author),
        _ => message,
    };

    private MilterOptions Options() => FilterDriver.Options(o => o.Dns.Servers = [$"127.0.0.1:{lab.Knot.Port}"]);

    private static async Task<string> ThroughFilterAsync(FilterDriver filter, Case c)
    {
        var (response, modifier) = await filter.SendMessageAsync(new FilterDriver.Envelope(c.Ip, c.Helo, c.MailFrom), Encoding.ASCII.GetBytes(c.Message));
        Assert.True(response.Kind == Protocol.MilterResponseKind.Continue, $"{c}: {response}");
        var inserted = Assert.Single(modifier.Calls, x => x.Op == "insert" && x.Name == "Authentication-Results");
        return "Authentication-Results:" + inserted.Value;
    }

    private async Task<string> ThroughCheckAsync(Case c)
    {
        var result = await CheckCommand.EvaluateAsync(Options(), FilterDriver.AuthservId,
            new SmtpEnvelope(IPAddress.Parse(c.Ip), c.Helo, c.MailFrom), Encoding.ASCII.GetBytes(c.Message), CancellationToken.None);
        return "Authentication-Results:" + result.AuthenticationResults.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fifty_messages_get_the_same_authentication_results_from_the_filter_and_from_check()
    {
        var filter = new FilterDriver(Options(), dns: null);
        var cases = Cases().ToList();
        Assert.Equal(50, cases.Count);
        var differences = new List<string>();
        var all = new StringBuilder();
        foreach (var c in cases)
        {
            var daemon = await ThroughFilterAsync(filter, c);
            var check = await ThroughCheckAsync(c);
            all.Append(daemon).Append('\n');
            if (daemon != check) differences.Add($"{c}:\n  filter: {daemon}\n  check:  {check}");
        }
        output.WriteLine(all.ToString());
        Assert.True(differences.Count == 0, string.Join("\n", differences));

        // The set is varied: every result the cases are meant to reach is reached.
        var text = all.ToString().Replace("\n\t", " ", StringComparison.Ordinal);
        foreach (var expected in new[]
                 {
                     "spf=pass", "spf=fail", "spf=softfail", "spf=neutral", "spf=permerror", "spf=none", "smtp.helo=mail.org.dmarctld; ",
                     "dkim=none", "dkim=pass", "dkim=fail", "header.a=ed25519-sha256", "dkim=permerror",
                     "dmarc=pass", "dmarc=fail", "dmarc=none", "dmarc=permerror", "policy.dmarc=reject", "policy.dmarc=quarantine",
                     "(sp=quarantine", "(np=reject", "reason=\"no From header\"", "reason=\"2 From headers\"",
                 })
        {
            Assert.True(text.Contains(expected, StringComparison.Ordinal), $"no case gives {expected}:\n{text}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(46)]
    public async Task The_check_executable_prints_the_header_the_filter_adds(int number)
    {
        var c = Cases().Single(x => x.Number == number);
        var daemon = await ThroughFilterAsync(new FilterDriver(Options(), dns: null), c);
        var (_, stdout, stderr) = await MilterDaemon.RunCliProcessAsync(["check", "--client-ip", c.Ip, "--helo", c.Helo, "--mail-from", c.MailFrom,
            "--authserv-id", FilterDriver.AuthservId, .. lab.DnsArgs], c.Message);
        var at = stdout.IndexOf("Authentication-Results:", StringComparison.Ordinal);
        Assert.True(at >= 0, stdout + stderr);
        Assert.Equal(daemon, stdout[at..].TrimEnd('\n'));
    }
}
