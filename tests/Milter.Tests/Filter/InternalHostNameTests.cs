namespace Milter.Tests.Filter;

/// <summary>InternalHosts entries by name (".example.com") match the host name the MTA passes at connect only when
/// the MTA verified it: a sender controls its own PTR record, so a forged name must not make its mail outbound
/// (signed with our key, and not checked). Inbound mail is checked (dkim=none here); outbound mail's
/// Authentication-Results says none (RFC 8601 2.2: no method applied).</summary>
public sealed class InternalHostNameTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("OK", true)]
    [InlineData("FORGED", false)]
    [InlineData("FAIL", false)]
    [InlineData("TEMP", false)]
    public async Task A_host_name_entry_matches_only_a_name_the_mta_verified(string? clientResolve, bool outbound)
    {
        var driver = new FilterDriver(o =>
        {
            o.Signing.InternalHosts = [".example.com"];
            o.Spf.Enabled = false;
            o.Dmarc.Enabled = false;
        });
        var envelope = new FilterDriver.Envelope("198.51.100.7", "relay.example.com", "<a@example.com>",
            ClientName: "relay.example.com", ClientResolve: clientResolve);
        var (_, modifier) = await driver.SendMessageAsync(envelope, "From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n"u8.ToArray());
        var results = Assert.Single(modifier.Calls, c => c.Op == "insert" && c.Name == "Authentication-Results").Value!;
        Assert.Equal(!outbound, results.Contains("dkim=none", StringComparison.Ordinal));
        Assert.Equal(outbound, results.TrimEnd().EndsWith("; none", StringComparison.Ordinal));
    }
}
