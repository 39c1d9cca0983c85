using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.TestKit.Dns;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>
/// One Knot on loopback serving (a) a psd=y record at every public suffix the PSL vectors imply (zones per TLD:
/// com, jp, ck, cn, ...) and (b) the "test." zone with the tree-walk scenarios of <see cref="DmarcKnotTests"/>.
/// </summary>
public sealed class DmarcKnotFixture : IAsyncLifetime
{
    public const string PsdRecord = "v=DMARC1; p=none; psd=y";

    public KnotDnsServer Knot { get; private set; } = null!;

    public DnsClientResolver Resolver() => new(new DnsResolverOptions
    {
        Servers = [$"127.0.0.1:{Knot.Port}"],
        Timeout = TimeSpan.FromSeconds(2),
    });

    public async Task InitializeAsync()
    {
        var zones = new Dictionary<string, DnsZone>(StringComparer.Ordinal);
        DnsZone ZoneFor(string name)
        {
            string tld = name[(name.LastIndexOf('.') + 1)..];
            if (!zones.TryGetValue(tld, out var zone))
                zones[tld] = zone = new DnsZone(tld);
            return zone;
        }
        foreach (var name in PslVectors.PsdNames(PslVectors.Load("tests.txt").Concat(PslVectors.Load("test_psl.txt"))))
            ZoneFor(name).Txt($"_dmarc.{name}.", PsdRecord);

        var test = ZoneFor("x.test");
        // Example A: org record with sp and np; a.mail.example.test exists, others do not.
        test.Txt("_dmarc.example.test.", "v=DMARC1; p=reject; sp=quarantine; np=reject")
            .A("a.mail.example.test.", "192.0.2.10");
        // Examples C and D: PSD bank.test, an org with its own record.
        test.Txt("_dmarc.bank.test.", "v=DMARC1; p=none; np=reject; psd=y")
            .Txt("_dmarc.giant.bank.test.", "v=DMARC1; p=reject")
            .A("mail.giant.bank.test.", "192.0.2.11");
        // Example E: psd=n below an org record.
        test.Txt("_dmarc.psdn.test.", "v=DMARC1; p=reject")
            .Txt("_dmarc.mail.psdn.test.", "v=DMARC1; p=none; psd=n");
        // Two records at one name (discarded), a parent record, and a stray SPF record.
        test.Txt("_dmarc.dup.multi.test.", "v=DMARC1; p=reject")
            .Txt("_dmarc.dup.multi.test.", "v=DMARC1; p=none")
            .Txt("_dmarc.multi.test.", "v=DMARC1; p=quarantine")
            .Txt("_dmarc.multi.test.", "v=spf1 -all");
        // A record split over several strings (joined without separator).
        test.TxtStrings("_dmarc.split.test.", ["v=DMARC1; p=rej", "ect; adkim=s"]);
        // Example G: a record only at a skipped 8-label name.
        test.Txt("_dmarc.b.c.d.e.f.g.deep.test.", "v=DMARC1; p=reject");
        Knot = await KnotDnsServer.StartAsync(zones.Values);
    }

    public async Task DisposeAsync() => await Knot.DisposeAsync();
}
