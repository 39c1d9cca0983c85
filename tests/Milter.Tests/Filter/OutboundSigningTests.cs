using System.Text;
using Milter.Configuration;
using Milter.Keys;
using Milter.Protocol;

namespace Milter.Tests.Filter;

/// <summary>Who is signed, driven in process (<see cref="FilterDriver"/>) from an internal host with the checked-in
/// golden.test key. (This ran against a `milter run` process before; nothing in it needs one.)</summary>
public sealed class OutboundSigningTests
{
    private static FilterDriver Driver()
    {
        var options = FilterDriver.Options(o =>
        {
            o.Signing.Keys = [new SigningKeyOptions
            {
                Domain = "golden.test", Selector = "rsa",
                KeyFile = Path.Combine(AppContext.BaseDirectory, "TestData/filter-cases/keys/rsa.private"),
            }];
            o.Signing.AllowGroupReadableKeys = true;
        });
        return new FilterDriver(options, dns: null, KeyStore.Load(options.Signing, TimeProvider.System));
    }

    private static async Task<int> SignaturesAsync(FilterDriver driver, string headers)
    {
        var (response, modifier) = await driver.SendMessageAsync(new FilterDriver.Envelope(FilterDriver.Inside, "client.golden.test", "<alice@golden.test>"),
            Encoding.ASCII.GetBytes(headers + "To: bob@example.org\r\n\r\nHello\r\n"));
        Assert.Equal(MilterResponseKind.Continue, response.Kind);
        Assert.Single(modifier.Calls, c => c.Name == "Authentication-Results");
        return modifier.Calls.Count(c => c.Name == "DKIM-Signature");
    }

    [Fact]
    public async Task No_From_or_two_From_headers_are_not_signed_and_logged_while_a_normal_message_is()
    {
        var driver = Driver();
        Assert.Equal(0, await SignaturesAsync(driver, "Subject: no from\r\n"));
        Assert.Equal(0, await SignaturesAsync(driver, "From: alice@golden.test\r\nFrom: eve@golden.test\r\n"));
        Assert.Equal(0, await SignaturesAsync(driver, "From: alice@golden.test, eve@golden.test\r\n"));
        Assert.Equal(1, await SignaturesAsync(driver, "From: Alice <alice@golden.test>\r\n"));

        var warnings = driver.Logger.Entries.Select(e => e.Message).ToList();
        Assert.Contains(warnings, m => m.Contains("not signed: no From header", StringComparison.Ordinal));
        Assert.Contains(warnings, m => m.Contains("not signed: 2 From headers", StringComparison.Ordinal));
        Assert.Contains(warnings, m => m.Contains("not signed: From header holds 2 addresses", StringComparison.Ordinal));
    }
}
