using System.Net;
using System.Text;
using Milter.Configuration;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;

namespace Milter.Tests.Filter;

/// <summary>Arc:Seal in the filter: accepted inbound mail gets the next ARC set above our Authentication-Results.</summary>
public sealed class ArcSealingFilterTests
{
    private static readonly string KeyFile = Path.Combine(AppContext.BaseDirectory, "TestData/filter-cases/keys/rsa.private");

    private const string Message = "From: Joe <joe@origin.test>\r\nTo: list@golden.test\r\nSubject: hi\r\nDate: Thu, 14 Jan 2015 15:00:01 -0800\r\n"
        + "Message-ID: <1@origin.test>\r\n\r\nHello list.\r\n";

    private static FilterDriver Driver(KeyResolver dns) => new(FilterDriver.Options(o =>
    {
        o.Arc.Seal = new ArcSealSection { Domain = "golden.test", Selector = "arc", KeyFile = KeyFile };
        o.Signing.AllowGroupReadableKeys = true;
    }), dns);

    [Fact]
    public async Task Accepted_inbound_mail_is_sealed_and_the_seal_verifies()
    {
        var dns = new KeyResolver();
        var (response, modifier) = await Driver(dns).SendMessageAsync(new FilterDriver.Envelope(FilterDriver.Outside, "mx.origin.test", "<joe@origin.test>"),
            Encoding.ASCII.GetBytes(Message));
        Assert.Equal(Milter.Protocol.MilterResponse.Continue, response);
        var inserted = modifier.Calls.Where(c => c.Op == "insert").Select(c => c.Name).ToList();
        Assert.Equal(["Authentication-Results", "ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"], inserted);

        var top = new StringBuilder();
        foreach (var call in modifier.Calls.Where(c => c.Op == "insert").Reverse())
            top.Append(call.Name).Append(':').Append(call.Value!.Replace("\n", "\r\n", StringComparison.Ordinal).Replace("\r\r\n", "\r\n", StringComparison.Ordinal)).Append("\r\n");
        var sealedMessage = Encoding.ASCII.GetBytes(top + Message);
        var (_, arc) = await ArcVerification.VerifyMessageAsync(new DkimVerifier(dns), sealedMessage);
        Assert.True(arc.Result == ArcResult.Pass, arc.Reason);
        Assert.Equal(["golden.test"], arc.Sealers);
        Assert.StartsWith("mx.cap.test;", arc.Sets[0].AuthenticationResults, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outbound_mail_is_not_sealed()
    {
        var (_, modifier) = await Driver(new KeyResolver()).SendMessageAsync(new FilterDriver.Envelope(FilterDriver.Inside, "localhost", "<joe@golden.test>"),
            Encoding.ASCII.GetBytes(Message));
        Assert.DoesNotContain(modifier.Calls, c => c.Name.StartsWith("ARC-", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("golden.test", null, "k", "Arc:Seal:Selector")]
    [InlineData(null, "arc", "k", "Arc:Seal:Domain")]
    [InlineData("golden.test", "arc", null, "Arc:Seal:KeyFile")]
    public void An_incomplete_seal_config_names_the_missing_key(string? domain, string? selector, string? keyFile, string key)
    {
        var e = Assert.Throws<ConfigException>(() => FilterDriver.Options(o => o.Arc.Seal = new ArcSealSection { Domain = domain, Selector = selector, KeyFile = keyFile }));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trusted_sealer_must_be_a_domain_name()
    {
        var e = Assert.Throws<ConfigException>(() => FilterDriver.Options(o => o.Dmarc.TrustedArcSealers = ["lists.example", "not a domain"]));
        Assert.Contains("Dmarc:TrustedArcSealers:1", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The public key of the seal at arc._domainkey.golden.test; every other name NXDOMAIN.</summary>
    private sealed class KeyResolver : IDnsResolver
    {
        private readonly string _record;

        public KeyResolver()
        {
            using var key = DkimPrivateKey.Load(File.ReadAllText(KeyFile)).Key!;
            _record = key.PublicKeyRecord;
        }

        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
            Task.FromResult(name.TrimEnd('.') == "arc._domainkey.golden.test" ? DnsAnswer<string>.Of([_record]) : DnsAnswer<string>.NxDomain);
        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<IPAddress>.NxDomain);
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<MxRecord>.NxDomain);
        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<string>.NxDomain);
    }
}
