using System.Net;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Spf;

public sealed class SpfCheckerTests
{
    private static ZoneData Zone(params (string Name, string Type, string Value)[] records)
    {
        var zone = new ZoneData();
        foreach (var (name, type, value) in records)
            zone.Add(name, new ZoneEntry(type, new[] { value }));
        return zone;
    }

    private static SpfChecker Checker(ZoneData zone, SpfOptions? options = null) =>
        new(new ZoneDataResolver(zone), options ?? new SpfOptions { ReceiverName = "mx.receiver.example" }, TimeProvider.System);

    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.10");

    [Fact]
    public async Task Null_sender_checks_postmaster_at_helo()
    {
        var zone = Zone(("helo.example.org", "TXT", "v=spf1 ip4:192.0.2.10 -all"));
        var result = await Checker(zone).CheckMailFromAsync(Client, "<>", "helo.example.org", default);
        Assert.Equal(SpfResultCode.Pass, result.Code);
        Assert.Equal("postmaster@helo.example.org", result.Sender);
        Assert.Equal("helo.example.org", result.Domain);
        Assert.Equal(SpfIdentity.MailFrom, result.Identity);
    }

    [Fact]
    public async Task Helo_identity_is_checked_with_postmaster_local_part()
    {
        var zone = Zone(("helo.example.org", "TXT", "v=spf1 -exists:%{l}.%{d} +all"));
        var result = await Checker(zone).CheckHeloAsync(Client, "helo.example.org", default);
        Assert.Equal(SpfResultCode.Pass, result.Code);
        Assert.Equal(SpfIdentity.Helo, result.Identity);
        Assert.Equal("postmaster@helo.example.org", result.Sender);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("[192.0.2.10]")]
    [InlineData("192.0.2.10")]
    [InlineData("")]
    public async Task Helo_that_is_not_a_domain_gives_none(string helo)
    {
        var result = await Checker(new ZoneData()).CheckHeloAsync(Client, helo, default);
        Assert.Equal(SpfResultCode.None, result.Code);
    }

    [Fact]
    public async Task Check_host_uses_the_given_domain_and_sender_macros()
    {
        var zone = Zone(("policy.example", "TXT", "v=spf1 exists:%{l}.%{o}.users.policy.example -all"),
            ("alice.mail.example.users.policy.example", "A", "127.0.0.2"));
        var result = await Checker(zone).CheckHostAsync(Client, "policy.example", "alice@mail.example", "helo.example", default);
        Assert.Equal(SpfResultCode.Pass, result.Code);
        Assert.Equal("exists:%{l}.%{o}.users.policy.example", result.Mechanism);
    }

    [Fact]
    public async Task Fail_carries_default_explanation_when_the_domain_gives_none()
    {
        var zone = Zone(("example.com", "TXT", "v=spf1 -all"));
        var result = await Checker(zone).CheckMailFromAsync(Client, "a@example.com", "h.example", default);
        Assert.Equal(SpfResultCode.Fail, result.Code);
        Assert.True(result.ExplanationIsDefault);
        Assert.Equal("example.com does not designate 192.0.2.10 as a permitted sender", result.Explanation);
    }

    [Fact]
    public async Task Exp_text_can_use_receiver_and_timestamp_macros()
    {
        var zone = Zone(("example.com", "TXT", "v=spf1 -all exp=why.example.com"),
            ("why.example.com", "TXT", "%{c} rejected by %{r}"));
        var result = await Checker(zone).CheckMailFromAsync(Client, "a@example.com", "h.example", default);
        Assert.Equal("192.0.2.10 rejected by mx.receiver.example", result.Explanation);
        Assert.False(result.ExplanationIsDefault);
    }

    [Fact]
    public async Task Eleven_includes_exceed_the_dns_lookup_limit()
    {
        var zone = new ZoneData();
        var terms = string.Join(' ', Enumerable.Range(1, 11).Select(i => $"include:i{i}.example.com"));
        zone.Add("example.com", new ZoneEntry("TXT", new[] { "v=spf1 " + terms + " -all" }));
        for (int i = 1; i <= 11; i++)
            zone.Add($"i{i}.example.com", new ZoneEntry("TXT", new[] { "v=spf1 -all" }));
        var result = await Checker(zone).CheckMailFromAsync(Client, "a@example.com", "h.example", default);
        Assert.Equal(SpfResultCode.PermError, result.Code);
        Assert.Equal(11, result.DnsLookups);
        Assert.Contains("more than 10 DNS-querying terms", result.Reason, StringComparison.Ordinal);

        var ten = await Checker(zone, new SpfOptions { MaxDnsLookups = 11 }).CheckMailFromAsync(Client, "a@example.com", "h.example", default);
        Assert.Equal(SpfResultCode.Fail, ten.Code);
    }

    [Fact]
    public async Task Time_budget_exceeded_is_temperror()
    {
        var zone = Zone(("example.com", "TXT", "v=spf1 a:slow.example.com -all"));
        var checker = new SpfChecker(new HangingResolver(new ZoneDataResolver(zone), "slow.example.com"),
            new SpfOptions { CheckTimeout = TimeSpan.FromMilliseconds(200) }, TimeProvider.System);
        var result = await checker.CheckMailFromAsync(Client, "a@example.com", "h.example", default);
        Assert.Equal(SpfResultCode.TempError, result.Code);
        Assert.Contains("time budget", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Caller_cancellation_propagates()
    {
        var zone = Zone(("example.com", "TXT", "v=spf1 a:slow.example.com -all"));
        var checker = new SpfChecker(new HangingResolver(new ZoneDataResolver(zone), "slow.example.com"), new SpfOptions(), TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => checker.CheckMailFromAsync(Client, "a@example.com", "h.example", cts.Token));
    }

    [Fact]
    public void Invalid_options_are_rejected_with_clear_errors()
    {
        var errors = new SpfOptions { MaxDnsLookups = 0, DefaultExplanation = "%{x}", CheckTimeout = TimeSpan.Zero }.Validate();
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Contains("Spf:MaxDnsLookups", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Spf:DefaultExplanation", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => new SpfChecker(new ZoneDataResolver(new ZoneData()), new SpfOptions { MaxVoidLookups = -1 }, TimeProvider.System));
    }

    [Theory]
    [InlineData(SpfResultCode.Pass, "pass")]
    [InlineData(SpfResultCode.Fail, "fail")]
    [InlineData(SpfResultCode.SoftFail, "softfail")]
    [InlineData(SpfResultCode.Neutral, "neutral")]
    [InlineData(SpfResultCode.None, "none")]
    [InlineData(SpfResultCode.TempError, "temperror")]
    [InlineData(SpfResultCode.PermError, "permerror")]
    public void Rfc8601_keywords(SpfResultCode code, string keyword)
    {
        Assert.Equal(keyword, code.ToKeyword());
        Assert.True(SpfResultCodeExtensions.TryParseKeyword(keyword.ToUpperInvariant(), out var parsed));
        Assert.Equal(code, parsed);
    }

    /// <summary>Answers like the inner resolver, except that address queries for one name never complete.</summary>
    private sealed class HangingResolver(IDnsResolver inner, string slowName) : IDnsResolver
    {
        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken ct) => inner.GetTxtAsync(name, ct);
        public async Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken ct)
        {
            if (name == slowName)
                await Task.Delay(Timeout.Infinite, ct);
            return await inner.GetAddressesAsync(name, ipv6, ct);
        }
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken ct) => inner.GetMxAsync(name, ct);
        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken ct) => inner.GetPtrAsync(address, ct);
    }
}
