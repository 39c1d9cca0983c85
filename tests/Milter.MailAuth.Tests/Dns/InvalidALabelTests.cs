using System.Net;
using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;
using Milter.TestKit.Dns;

namespace Milter.MailAuth.Tests.Dns;

/// <summary>Knot with a p=reject domain behind a recording proxy (<see cref="BlackholeDnsServer"/> forwarding
/// everything), so the tests see every question name exactly as it was on the wire.</summary>
public sealed class RecordingKnotFixture : IAsyncLifetime
{
    public KnotDnsServer Knot { get; private set; } = null!;
    public BlackholeDnsServer Proxy { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Knot = await KnotDnsServer.StartAsync(new DnsZone("idn.test")
            .Txt("_dmarc", "v=DMARC1; p=reject")
            .Txt("@", "v=spf1 -all")
            .Txt("xn--bcher-kva", "v=spf1 -all")
            .Txt("_dmarc.xn--bcher-kva", "v=DMARC1; p=reject")
            .Txt("spf", "v=spf1 include:%{l}.idn.test -all"));
        Proxy = await BlackholeDnsServer.StartAsync(Knot.EndPoint, []);
    }

    public async Task DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await Knot.DisposeAsync();
    }

    public DnsClientResolver Resolver() => new(new DnsResolverOptions
    {
        Servers = [$"127.0.0.1:{Proxy.Port}"],
        Timeout = TimeSpan.FromSeconds(3),
    });
}

/// <summary>
/// Issue 13 defect 3: a name with an "xn--" label that is not a valid A-label ("xn--zz") made DnsClient fail with
/// "Invalid IDN encoded string" (a temperror everywhere, so DMARC p=reject was never enforced). Now such names are
/// refused before any query with a permanent result, and valid A-labels reach the wire exactly as given.
/// </summary>
public sealed class InvalidALabelTests(RecordingKnotFixture fixture) : IClassFixture<RecordingKnotFixture>
{
    [Theory]
    [InlineData("xn--bcher-kva.idn.test")]
    [InlineData("XN--BCHER-KVA.idn.test")]
    [InlineData("_dmarc.xn--bcher-kva.idn.test")]
    public async Task A_valid_a_label_goes_on_the_wire_exactly_as_given(string name)
    {
        var answer = await fixture.Resolver().GetTxtAsync(name, default);
        Assert.Equal(DnsStatus.NoError, answer.Status);
        Assert.Single(answer.Records);
        Assert.Contains(name, fixture.Proxy.QuestionsSeen);
    }

    [Fact]
    public async Task A_macro_built_name_with_other_characters_and_an_a_label_goes_on_the_wire_as_it_is()
    {
        const string name = "a+b=c.xn--bcher-kva.idn.test";
        var answer = await fixture.Resolver().GetTxtAsync(name, default);
        Assert.Equal(DnsStatus.NxDomain, answer.Status);
        Assert.Contains(name, fixture.Proxy.QuestionsSeen);
    }

    [Theory]
    [InlineData("xn--zz.idn.test")]
    [InlineData("_dmarc.xn--zz.idn.test")]
    [InlineData("XN--ZZ.idn.test")]
    [InlineData("xn--.idn.test")]
    public async Task An_invalid_a_label_is_refused_permanently_and_never_sent(string name)
    {
        var answer = await fixture.Resolver().GetTxtAsync(name, default);
        Assert.False(answer.IsTemporaryFailure, $"{answer.Status}: {answer.Error}");
        Assert.Equal("InvalidName", answer.Status.ToString());
        Assert.DoesNotContain(fixture.Proxy.QuestionsSeen, q => q.EndsWith(name, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Dmarc_for_an_author_domain_with_an_invalid_a_label_is_permerror_not_temperror()
    {
        var evaluator = new DmarcEvaluator(fixture.Resolver(), new DmarcOptions());
        var result = await evaluator.EvaluateAsync("xn--zz.idn.test", [], null, default);
        Assert.Equal(DmarcResultCode.PermError, result.Result);
        var valid = await evaluator.EvaluateAsync("xn--bcher-kva.idn.test", [], null, default);
        Assert.Equal(DmarcResultCode.Fail, valid.Result);
        Assert.Equal(DmarcDisposition.Reject, valid.Disposition);
    }

    [Fact]
    public async Task Dmarc_discovery_for_an_invalid_a_label_is_a_permanent_error()
    {
        var lookup = await new DmarcEvaluator(fixture.Resolver(), new DmarcOptions()).DiscoverAsync("xn--zz.idn.test", default);
        Assert.Equal(DmarcLookupStatus.PermError, lookup.Status);
    }

    [Theory]
    [InlineData("bounce@xn--zz.idn.test", "mail.idn.test")]
    [InlineData("", "xn--zz.idn.test")]
    public async Task Spf_for_a_mail_from_or_helo_with_an_invalid_a_label_is_none(string mailFrom, string helo)
    {
        var checker = new SpfChecker(fixture.Resolver(), new SpfOptions(), TimeProvider.System);
        var result = await checker.CheckMailFromAsync(IPAddress.Parse("192.0.2.1"), mailFrom, helo, default);
        Assert.Equal(SpfResultCode.None, result.Code);
        var heloResult = await checker.CheckHeloAsync(IPAddress.Parse("192.0.2.1"), "xn--zz.idn.test", default);
        Assert.Equal(SpfResultCode.None, heloResult.Code);
    }

    [Fact]
    public async Task Spf_include_of_a_macro_built_invalid_a_label_is_permerror_not_temperror()
    {
        // %{l} = "xn--zz": include:xn--zz.idn.test is a name that cannot exist, so the include is permerror (5.2).
        var checker = new SpfChecker(fixture.Resolver(), new SpfOptions(), TimeProvider.System);
        var result = await checker.CheckMailFromAsync(IPAddress.Parse("192.0.2.1"), "xn--zz@spf.idn.test", "mail.idn.test", default);
        Assert.Equal(SpfResultCode.PermError, result.Code);
    }

    [Fact]
    public async Task Dkim_d_with_an_invalid_a_label_is_refused_as_malformed_not_temperror()
    {
        var key = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var message = Encoding.ASCII.GetBytes("From: a@idn.test\r\nSubject: x\r\n\r\nbody\r\n");
        var signed = Encoding.ASCII.GetString(new DkimSigner(new DkimSignerOptions { Domain = "idn.test", Selector = "s1", Key = key })
            .SignMessageToBytes(message, out _));
        // Same body hash, so the verifier goes as far as the key lookup for d=xn--zz.idn.test.
        var forged = Encoding.ASCII.GetBytes(signed.Replace("d=idn.test", "d=xn--zz.idn.test", StringComparison.Ordinal));
        var result = Assert.Single(await new DkimVerifier(fixture.Resolver()).VerifyMessageAsync(forged));
        Assert.NotEqual(DkimResult.TempError, result.Result);
        Assert.NotEqual(DkimResult.Pass, result.Result);
    }
}
