using System.Text;
using Milter.Configuration;
using Milter.Protocol;
using Milter.TestKit.Dns;

namespace Milter.Tests.Filter;

/// <summary>DMARC enforcement options of the filter, driven in process (<see cref="FilterDriver"/>) from an outside
/// address against records Knot serves. (These ran against a `milter run` process before; nothing in them needs one.)</summary>
public sealed class DmarcEnforcementTests(DmarcEnforcementTests.Dns dns) : IClassFixture<DmarcEnforcementTests.Dns>
{
    private FilterDriver Driver(Action<DmarcSection> dmarc) => new(FilterDriver.Options(o =>
    {
        o.Dns.Servers = [$"127.0.0.1:{dns.Knot.Port}"];
        dmarc(o.Dmarc);
    }), dns: null);

    private static Task<(MilterResponse Response, RecordingModifier Modifier)> SendAsync(FilterDriver driver, string sender, params string[] from)
    {
        var message = string.Concat(from.Select(f => $"From: {f}\r\n")) + "Subject: test\r\n\r\nbody\r\n";
        return driver.SendMessageAsync(new FilterDriver.Envelope("198.51.100.20", "mail.quarantined.test", sender), Encoding.ASCII.GetBytes(message));
    }

    private static string AuthResults(RecordingModifier modifier)
        => Assert.Single(modifier.Calls, c => c.Name == "Authentication-Results").Value!.Replace("\n\t", " ", StringComparison.Ordinal);

    [Fact]
    public async Task QuarantineOnFailure_puts_a_failing_p_quarantine_message_on_hold_and_records_it()
    {
        var driver = Driver(d => d.QuarantineOnFailure = true);
        var (response, modifier) = await SendAsync(driver, "<x@quarantined.test>", "boss@quarantined.test");
        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Contains(modifier.Calls, c => c.Op == "quarantine");
        Assert.Contains("dmarc=fail (p=quarantine dis=quarantine)", AuthResults(modifier), StringComparison.Ordinal);
        Assert.Contains(driver.Logger.Entries, e => e.Message.Contains("verdict=quarantine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task By_default_nothing_is_enforced_and_a_message_with_two_From_addresses_gets_dmarc_permerror()
    {
        var driver = Driver(d => d.Enabled = true);
        var (failing, failingModifier) = await SendAsync(driver, "<x@quarantined.test>", "boss@quarantined.test");
        Assert.Equal(MilterResponseKind.Continue, failing.Kind);
        Assert.DoesNotContain(failingModifier.Calls, c => c.Op == "quarantine");

        var (twoAuthors, modifier) = await SendAsync(driver, "<x@quarantined.test>", "a@quarantined.test, b@example.org");
        Assert.Equal(MilterResponseKind.Continue, twoAuthors.Kind);
        Assert.Contains("dmarc=permerror", AuthResults(modifier), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spf_through_a_redirect_aligns_by_the_mail_from_domain_not_the_redirect_target()
    {
        var (response, modifier) = await SendAsync(Driver(d => d.RejectOnFailure = true), "<bounce@redirected.test>", "news@redirected.test");
        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        var ar = AuthResults(modifier);
        Assert.Contains("spf=pass smtp.mailfrom=bounce@redirected.test", ar, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass", ar, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RejectInvalidFrom_refuses_a_message_without_exactly_one_author()
    {
        var driver = Driver(d => d.RejectInvalidFrom = true);
        var (noFrom, _) = await SendAsync(driver, "<x@quarantined.test>");
        Assert.Equal(MilterResponseKind.ReplyCode, noFrom.Kind);
        Assert.StartsWith("550 5.7.1", noFrom.ReplyText, StringComparison.Ordinal);
        Assert.Contains("no From header", noFrom.ReplyText, StringComparison.Ordinal);
        var (ok, _) = await SendAsync(driver, "<x@quarantined.test>", "boss@quarantined.test");
        Assert.Equal(MilterResponseKind.Continue, ok.Kind);
    }

    [Fact]
    public async Task A_spoof_of_a_p_reject_domain_through_an_invalid_a_label_is_rejected()
    {
        // Issue 13 defect 3: From boss@xn--zz.redirected.test (under p=reject) passed From parsing, DNS refused the
        // name, and dmarc=temperror was never enforced: the spoof was delivered.
        var (spoof, _) = await SendAsync(Driver(d => { d.RejectOnFailure = true; d.RejectInvalidFrom = true; }),
            "<x@quarantined.test>", "boss@xn--zz.redirected.test");
        Assert.Equal(MilterResponseKind.ReplyCode, spoof.Kind);
        Assert.StartsWith("550 5.7.1", spoof.ReplyText, StringComparison.Ordinal);
        Assert.Contains("not a valid domain name", spoof.ReplyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_from_domain_with_an_invalid_a_label_is_dmarc_permerror_not_temperror()
    {
        var (response, modifier) = await SendAsync(Driver(d => d.Enabled = true), "<x@quarantined.test>", "boss@xn--zz.redirected.test");
        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        var ar = AuthResults(modifier);
        Assert.Contains("dmarc=permerror", ar, StringComparison.Ordinal);
        Assert.DoesNotContain("temperror", ar, StringComparison.Ordinal);
    }

    /// <summary>quarantined.test (p=quarantine, SPF -all); redirected.test (p=reject, SPF redirect to _spf.provider.test,
    /// which allows 198.51.100.0/24); "test" so tree walks get answers.</summary>
    public sealed class Dns : IAsyncLifetime
    {
        public KnotDnsServer Knot { get; private set; } = null!;

        public async Task InitializeAsync() => Knot = await KnotDnsServer.StartAsync(
            new DnsZone("quarantined.test").Txt("_dmarc", "v=DMARC1; p=quarantine").Txt("@", "v=spf1 -all"),
            new DnsZone("redirected.test").Txt("_dmarc", "v=DMARC1; p=reject").Txt("@", "v=spf1 redirect=_spf.provider.test"),
            new DnsZone("provider.test").Txt("_spf", "v=spf1 ip4:198.51.100.0/24 -all"),
            new DnsZone("test"));

        public async Task DisposeAsync() => await Knot.DisposeAsync();
    }
}
