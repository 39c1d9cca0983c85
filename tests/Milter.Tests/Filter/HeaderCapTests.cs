using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Filter;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.Protocol;
using Milter.TestKit;

namespace Milter.Tests.Filter;

/// <summary>
/// Issue 13: the filter stores at most <see cref="AuthFilter.MaxHeaders"/> fields or <see cref="AuthFilter.MaxHeaderBytes"/>
/// bytes, but every Authentication-Results and From field counts whatever comes before it.
/// </summary>
public sealed class HeaderCapTests
{
    private const string Ar = "Authentication-Results";
    private static readonly int PastTheCap = AuthFilter.MaxHeaders + 100;

    [Fact]
    public async Task Outbound_forged_AuthResults_past_the_header_cap_are_deleted_and_others_kept()
    {
        var driver = new FilterDriver();
        (string, string)[] headers =
        [
            ("From", " user@sender.test"),
            (Ar, $" {FilterDriver.AuthservId}; dkim=pass header.d=bank.example"), // 1: ours
            .. FilterDriver.Fillers(PastTheCap),
            (Ar, " other.example.org; spf=pass"),                                   // 2: kept
            (Ar, $" {FilterDriver.AuthservId}; dkim=pass header.d=bank.example"),  // 3: ours
            (Ar, $" {FilterDriver.AuthservId}.; dmarc=pass"),                      // 4: ours (root dot)
        ];

        var (response, modifier) = await driver.SendAsync(FilterDriver.Inside, headers);

        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Equal([4, 3, 1], modifier.Deleted(Ar));
        Assert.Contains(modifier.Calls, c => c is { Op: "insert", Index: 0, Name: Ar } && c.Value!.StartsWith(FilterDriver.AuthservId + "; none", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Inbound_message_past_the_header_count_cap_is_refused_with_552_by_default()
    {
        var driver = new FilterDriver();
        (string, string)[] headers =
        [
            ("From", " news@sender.test"),
            .. FilterDriver.Fillers(PastTheCap),
            (Ar, $" {FilterDriver.AuthservId}; dkim=pass header.d=sender.test; dmarc=pass"),
            ("From", " boss@bank.example"),
        ];

        var (response, modifier) = await driver.SendAsync(FilterDriver.Outside, headers);

        Assert.Equal(MilterResponseKind.ReplyCode, response.Kind);
        Assert.StartsWith("552 5.3.4 ", response.ReplyText, StringComparison.Ordinal);
        Assert.Empty(modifier.Calls);
        // Not evaluated on the partial view: no SPF/DKIM/DMARC verdict is recorded (nor reaches the DMARC reports).
        var record = Assert.Single(driver.Logger.Entries, e => e.Message.StartsWith("verification ", StringComparison.Ordinal)).Message;
        using var json = System.Text.Json.JsonDocument.Parse(record["verification ".Length..]);
        Assert.Equal("reject", json.RootElement.GetProperty("action").GetString());
        Assert.False(json.RootElement.TryGetProperty("spf", out var spf) && spf.ValueKind != System.Text.Json.JsonValueKind.Null, record);
        Assert.Equal(0, json.RootElement.GetProperty("dkim").GetArrayLength());
    }

    [Fact]
    public async Task Inbound_message_past_the_header_byte_cap_is_refused()
    {
        var driver = new FilterDriver();
        var big = " " + new string('a', 60_000);
        var fields = (int)(AuthFilter.MaxHeaderBytes / big.Length) + 2;
        (string, string)[] headers = [("From", " news@sender.test"), .. Enumerable.Range(1, fields).Select(i => ($"X-Big-{i}", big))];

        var (response, _) = await driver.SendAsync(FilterDriver.Outside, headers);

        Assert.Equal(MilterResponseKind.ReplyCode, response.Kind);
        Assert.StartsWith("552 5.3.4 ", response.ReplyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeaderLimitAction_tempfail_answers_452_instead()
    {
        var driver = new FilterDriver(o => o.Verification.HeaderLimitAction = "tempfail");
        var (response, _) = await driver.SendAsync(FilterDriver.Outside, [("From", " news@sender.test"), .. FilterDriver.Fillers(PastTheCap)]);

        Assert.Equal(MilterResponseKind.ReplyCode, response.Kind);
        Assert.StartsWith("452 4.3.4 ", response.ReplyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inbound_message_at_the_cap_is_evaluated_as_before()
    {
        var driver = new FilterDriver();
        (string, string)[] headers =
        [
            ("From", " news@sender.test"),
            .. FilterDriver.Fillers(AuthFilter.MaxHeaders - 2),
            (Ar, $" {FilterDriver.AuthservId}; dkim=pass header.d=bank.example"),
        ];

        var (response, modifier) = await driver.SendAsync(FilterDriver.Outside, headers);

        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Equal([1], modifier.Deleted(Ar));
    }

    [Fact]
    public async Task More_forged_AuthResults_than_can_be_tracked_is_refused()
    {
        var driver = new FilterDriver();
        var forged = Enumerable.Range(0, AuthFilter.MaxForgedAuthResults + 1).Select(_ => (Ar, $" {FilterDriver.AuthservId}; none"));
        var (response, modifier) = await driver.SendAsync(FilterDriver.Inside, [("From", " user@sender.test"), .. forged]);

        Assert.Equal(MilterResponseKind.ReplyCode, response.Kind);
        Assert.StartsWith("552 5.3.4 ", response.ReplyText, StringComparison.Ordinal);
        Assert.Empty(modifier.Calls);
    }

    [Fact]
    public async Task Outbound_From_past_the_cap_for_a_domain_with_a_key_is_tempfailed_not_sent_unsigned()
    {
        using var dir = new TempDir("filter-cap");
        var driver = new FilterDriver(keys: SenderTestKey(dir));
        var (response, modifier) = await driver.SendAsync(FilterDriver.Inside, [.. FilterDriver.Fillers(PastTheCap), ("From", " user@sender.test")]);

        Assert.Equal(MilterResponseKind.Tempfail, response.Kind);
        Assert.Empty(modifier.Calls);
        Assert.Contains(driver.Logger.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("cannot sign", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Outbound_second_From_past_the_cap_is_seen()
    {
        using var dir = new TempDir("filter-cap");
        var driver = new FilterDriver(keys: SenderTestKey(dir));
        var (response, _) = await driver.SendAsync(FilterDriver.Inside,
            [("From", " user@sender.test"), .. FilterDriver.Fillers(PastTheCap), ("From", " boss@bank.example")]);

        // As for any message with two From fields: not signed (which author?), a warning, the message goes on.
        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Contains(driver.Logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("not signed: 2 From headers", StringComparison.Ordinal));
    }

    private static KeyStore SenderTestKey(TempDir dir)
    {
        using var key = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var path = dir.File("ed.private");
        File.WriteAllText(path, key.ExportPkcs8Pem());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var signing = new SigningSection
        {
            Keys = [new SigningKeyOptions { Domain = "sender.test", Selector = "ed", KeyFile = path }],
            OversignHeaders = ["From"],
        };
        return KeyStore.Load(signing, TimeProvider.System);
    }
}
