using System.Text;
using Milter.MailAuth.Arc;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>RFC 8617 5.2 order: the newest ARC-Message-Signature is validated before any seal's key is fetched, so a
/// chain whose newest AMS fails costs one key lookup, not one per sealer.</summary>
public sealed class ArcKeyLookupTests
{
    private static async Task<(ArcHops Hops, byte[] Message)> FiveHopsAsync()
    {
        var hops = new ArcHops();
        var message = Encoding.ASCII.GetBytes(ArcHops.Unsigned);
        for (int i = 1; i <= 5; i++)
            (message, _, _) = await hops.HopAsync(message, hops.Sealer($"hop{i}.example"));
        return (hops, message);
    }

    [Fact]
    public async Task A_failing_newest_AMS_ends_validation_after_its_own_key_lookup()
    {
        var (hops, message) = await FiveHopsAsync();
        using var _ = hops;
        int before = hops.Dns.TxtQueries;
        var result = await hops.VerifyAsync([.. message, .. Encoding.ASCII.GetBytes("appended after the last seal\r\n")]);
        Assert.Equal(ArcResult.Fail, result.Result);
        Assert.Contains("ARC-Message-Signature i=5", result.Reason, StringComparison.Ordinal);
        Assert.Equal(1, hops.Dns.TxtQueries - before);
    }

    [Fact]
    public async Task A_passing_chain_looks_up_each_sealers_key_once()
    {
        var (hops, message) = await FiveHopsAsync();
        using var _ = hops;
        int before = hops.Dns.TxtQueries;
        var result = await hops.VerifyAsync(message);
        Assert.True(result.Result == ArcResult.Pass, result.Reason);
        Assert.Equal(5, hops.Dns.TxtQueries - before);
    }
}
