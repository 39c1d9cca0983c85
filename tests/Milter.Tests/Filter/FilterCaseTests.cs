using System.Text;
using Microsoft.Extensions.Configuration;
using Milter.Configuration;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.TestKit.Dns;
using Milter.Tests.Deployment;

namespace Milter.Tests.Filter;

/// <summary>
/// Golden cases for the filter, driven in process (<see cref="FilterDriver"/>): each TestData/filter-cases/NAME.eml is a
/// message; NAME.expected holds its SMTP envelope and config lines, "==", then the reply and every modification the
/// filter asked for, in order. DNS is a Knot serving golden.test with the checked-in keys; the clock is fixed (signing t=, verification).
/// Run with MILTER_UPDATE_FILTER_CASES=1 to rewrite the part after "==" (then read the diff).
/// </summary>
public sealed class FilterCaseTests(FilterCaseTests.Dns dns) : IClassFixture<FilterCaseTests.Dns>
{
    private const string Folder = "TestData/filter-cases";
    private const string Separator = "==";

    private static IEnumerable<string> CaseNames()
        => Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, Folder), "*.eml").Order(StringComparer.Ordinal)
            .Select(eml => Path.GetFileNameWithoutExtension(eml));

    public static TheoryData<string> Names() => new(CaseNames());

    [Fact]
    public void The_cases_cover_inbound_pass_and_fail_forged_results_outbound_signing_and_dmarc_enforcement()
    {
        var names = CaseNames().ToList();
        foreach (var name in new[] { "inbound-pass", "inbound-fail", "forged-ar-removed", "outbound-sign", "dmarc-reject", "dmarc-quarantine" })
            Assert.Contains(name, names);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Case(string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, Folder);
        var expectedText = File.ReadAllText(Path.Combine(folder, name + ".expected")).ReplaceLineEndings("\n");
        var cut = expectedText.IndexOf("\n" + Separator + "\n", StringComparison.Ordinal);
        var head = cut < 0 ? expectedText.TrimEnd('\n') : expectedText[..cut];
        var envelope = new FilterDriver.Envelope("192.0.2.10", "mail.golden.test", "<>");
        var config = new Dictionary<string, string?>
        {
            ["AuthservId"] = FilterDriver.AuthservId,
            ["Reports:DataDirectory"] = "",
            ["Dns:Servers:0"] = $"127.0.0.1:{dns.Knot.Port}",
        };
        foreach (var line in head.Split('\n').Where(l => l.Length > 0 && l[0] != '#'))
        {
            var (key, value) = (line[..line.IndexOf(' ', StringComparison.Ordinal)], line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
            envelope = key switch
            {
                "client" => envelope with { Client = value },
                "helo" => envelope with { Helo = value },
                "mail-from" => envelope with { MailFrom = value },
                "authenticated" => envelope with { Authenticated = true },
                "config" => envelope,
                _ => throw new InvalidDataException($"{name}.expected: unknown line '{line}'"),
            };
            if (key == "config")
                config[value[..value.IndexOf('=', StringComparison.Ordinal)]] = value[(value.IndexOf('=', StringComparison.Ordinal) + 1)..].Replace("{keys}", Path.Combine(folder, "keys"), StringComparison.Ordinal);
        }

        var options = ConfigLoader.Bind(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        ConfigLoader.ApplyDefaults(options);
        ConfigLoader.Validate(options);
        var clock = new FixedClock(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var driver = new FilterDriver(options, dns: null, KeyStore.Load(options.Signing, clock), clock);
        var message = RawMessageParser.NormalizeLineEndings(File.ReadAllBytes(Path.Combine(folder, name + ".eml")));
        var (response, modifier) = await driver.SendMessageAsync(envelope, message);

        var actual = new StringBuilder().Append("reply ").Append(response).Append('\n');
        foreach (var (op, header, index, value) in modifier.Calls)
        {
            actual.Append(op).Append(' ').Append(header).Append(' ').Append(index);
            if (value is not null) actual.Append(' ').Append(value.Replace("\n", "\\n", StringComparison.Ordinal));
            actual.Append('\n');
        }
        var expected = cut < 0 ? "" : expectedText[(cut + Separator.Length + 2)..];
        if (Environment.GetEnvironmentVariable("MILTER_UPDATE_FILTER_CASES") == "1" && expected != actual.ToString())
            File.WriteAllText(RepoFiles.PathOf($"tests/Milter.Tests/{Folder}/{name}.expected"), head + "\n" + Separator + "\n" + actual);
        else
            Assert.Equal(expected, actual.ToString());
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>golden.test: the checked-in RSA and Ed25519 keys, SPF allowing 192.0.2.0/24 (for the domain and the HELO
    /// mail.golden.test), DMARC p=reject; quar.golden.test: the same SPF, DMARC p=quarantine.</summary>
    public sealed class Dns : IAsyncLifetime
    {
        public KnotDnsServer Knot { get; private set; } = null!;

        private static string Record(string file)
            => DkimPrivateKey.Load(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, Folder, "keys", file))).Key!.PublicKeyRecord;

        public async Task InitializeAsync()
        {
            const string spf = "v=spf1 ip4:192.0.2.0/24 -all";
            // "test" as well, so a DMARC tree walk up from golden.test gets answers, not REFUSED (a temperror).
            Knot = await KnotDnsServer.StartAsync(new DnsZone("test"), new DnsZone("golden.test")
                .Txt("rsa._domainkey", Record("rsa.private"))
                .Txt("ed._domainkey", Record("ed.private"))
                .Txt("@", spf)
                .Txt("mail", spf)
                .Txt("_dmarc", "v=DMARC1; p=reject")
                .Txt("quar", spf)
                .Txt("_dmarc.quar", "v=DMARC1; p=quarantine"));
        }

        public async Task DisposeAsync() => await Knot.DisposeAsync();
    }
}
