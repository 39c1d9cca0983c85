using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.TestKit.Dns;

namespace Milter.Tests.Commands;

/// <summary>
/// For `milter dmarc` and `milter check`: one Knot on loopback serving two fake TLDs.
/// dmarctld: a psd=y record at the TLD (p=quarantine); org.dmarctld with p=reject, sp=quarantine, np=reject, an RSA
/// key (selector rsa), SPF allowing 192.0.2.0/24, and the existing names sub.org and mail.org (SPF too, for
/// relaxed alignment and the HELO identity); other.dmarctld with the same key (for an unaligned signature) and
/// _spf.other.dmarctld, the redirect target of redir.org.dmarctld's SPF record;
/// lax.dmarctld (p=none); quar.dmarctld (p=quarantine, strict alignment); psdonly.dmarctld (no record of its own);
/// dup.org.dmarctld (two DMARC records, an existing name).
/// For the front-door equality test: an Ed25519 key at ed._domainkey.org, and SPF records giving softfail
/// (soft.org), neutral (neutral.org) and permerror (perm.org, a bad CIDR length).
/// nodmarc: no DMARC record anywhere; plain.nodmarc allows 192.0.2.0/24 by SPF.
/// </summary>
public sealed class DmarcCliFixture : IAsyncLifetime
{
    public const string OrgRecord = "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:agg@org.dmarctld";

    public DkimPrivateKey Rsa { get; } = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
    public DkimPrivateKey Ed { get; } = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
    public KnotDnsServer Knot { get; private set; } = null!;

    public string[] DnsArgs => ["--dns", $"127.0.0.1:{Knot.Port}"];

    public DnsClientResolver Resolver() => new(new DnsResolverOptions
    {
        Servers = [$"127.0.0.1:{Knot.Port}"],
        Timeout = TimeSpan.FromSeconds(2),
        CacheEntries = 0,
    });

    public async Task InitializeAsync()
    {
        const string spf = "v=spf1 ip4:192.0.2.0/24 -all";
        var tld = new DnsZone("dmarctld")
            .Txt("_dmarc", "v=DMARC1; p=quarantine; psd=y")
            .Txt("_dmarc.org", OrgRecord)
            .Txt("rsa._domainkey.org", Rsa.PublicKeyRecord)
            .Txt("org", spf)
            .Txt("mail.org", spf)
            .A("mail.org", "192.0.2.25")
            .A("sub.org", "192.0.2.26")
            .Txt("rsa._domainkey.other", Rsa.PublicKeyRecord)
            .Txt("other", "v=spf1 -all")
            .Txt("_spf.other", spf)
            .Txt("redir.org", "v=spf1 redirect=_spf.other.dmarctld")
            .Txt("_dmarc.lax", "v=DMARC1; p=none")
            .Txt("_dmarc.quar", "v=DMARC1; p=quarantine; adkim=s; aspf=s")
            .A("psdonly", "192.0.2.27")
            .Txt("_dmarc.dup.org", "v=DMARC1; p=none")
            .Txt("_dmarc.dup.org", "v=DMARC1; p=reject")
            .A("dup.org", "192.0.2.28")
            .Txt("ed._domainkey.org", Ed.PublicKeyRecord)
            .Txt("soft.org", "v=spf1 ip4:192.0.2.1 ~all")
            .Txt("neutral.org", "v=spf1 ?all")
            .Txt("perm.org", "v=spf1 ip4:192.0.2.0/33 -all");
        var nodmarc = new DnsZone("nodmarc")
            .Txt("plain", spf);
        Knot = await KnotDnsServer.StartAsync(tld, nodmarc);
    }

    /// <summary>The message signed by <paramref name="domain"/> (selector rsa, or ed for the Ed25519 key), CRLF line ends.</summary>
    public string Sign(string message, string domain, string selector = "rsa")
    {
        var signer = new DkimSigner(new DkimSignerOptions { Domain = domain, Selector = selector, Key = selector == "ed" ? Ed : Rsa });
        var bytes = signer.SignMessageToBytes(RawMessageParser.NormalizeLineEndings(System.Text.Encoding.ASCII.GetBytes(message)), out var result);
        if (!result.Success) throw new InvalidOperationException("cannot sign: " + result.Error);
        return System.Text.Encoding.ASCII.GetString(bytes);
    }

    public async Task DisposeAsync()
    {
        await Knot.DisposeAsync();
        Rsa.Dispose();
        Ed.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DmarcCliCollection : ICollectionFixture<DmarcCliFixture>
{
    public const string Name = "dmarc-cli";
}
