using System.Net;
using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Inbound;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>Dmarc:TrustedArcSealers: a passing chain of trusted sealers back to an AAR that shows the author
/// authenticated keeps dmarc=fail but lifts the disposition (RFC 8617 7.2.1).</summary>
public sealed class ArcTrustTests
{
    private const string Passed = "lists.example; spf=fail smtp.mailfrom=joe@origin.example; dkim=pass header.d=origin.example; dmarc=pass";

    private static async Task<InboundResult> EvaluateAsync(ArcHops hops, byte[] message, params string[] trusted)
    {
        hops.Dns.AddTxt("_dmarc.origin.example", "v=DMARC1; p=reject");
        var pipeline = new InboundPipeline(hops.Dns,
            new InboundPipelineOptions { AuthservId = "mx.example", Spf = null, TrustedArcSealers = trusted }, TimeProvider.System);
        return await pipeline.EvaluateAsync(new SmtpEnvelope(IPAddress.Parse("192.0.2.9"), "lists.example", "bounce@lists.example"),
            new MemoryStream(message), CancellationToken.None);
    }

    private static async Task<byte[]> ListAsync(ArcHops hops, string results = Passed)
        => (await hops.HopAsync(Encoding.ASCII.GetBytes(ArcHops.Unsigned), hops.Sealer("lists.example"), results: results)).Message;

    [Fact]
    public async Task A_trusted_list_that_saw_dmarc_pass_lifts_the_reject()
    {
        using var hops = new ArcHops();
        var result = await EvaluateAsync(hops, await ListAsync(hops), "lists.example");
        Assert.Equal(DmarcResultCode.Fail, result.Dmarc!.Result);
        Assert.Equal(DmarcDisposition.None, result.Dmarc.Disposition);
        Assert.Equal("arc=pass i=1 as[1].d=lists.example aar[1] dkim=pass origin.example", result.Dmarc.ArcOverride);
        Assert.Contains("dmarc=fail (p=reject dis=none local_policy arc=pass) header.from=origin.example policy.dmarc=none",
            result.FormatAuthenticationResults(998), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_trust_the_failure_keeps_its_reject()
    {
        using var hops = new ArcHops();
        var result = await EvaluateAsync(hops, await ListAsync(hops));
        Assert.Equal(DmarcDisposition.Reject, result.Dmarc!.Disposition);
        Assert.Null(result.Dmarc.ArcOverride);
    }

    [Fact]
    public async Task A_trusted_sealer_whose_results_show_no_authentication_does_not_lift_it()
    {
        using var hops = new ArcHops();
        var result = await EvaluateAsync(hops, await ListAsync(hops, "lists.example; dkim=fail header.d=origin.example; spf=pass smtp.mailfrom=x@other.example"), "lists.example");
        Assert.Equal(DmarcDisposition.Reject, result.Dmarc!.Disposition);
    }

    [Fact]
    public async Task An_untrusted_newer_sealer_breaks_the_trust()
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(await ListAsync(hops), hops.Sealer("forward.example"), results: "forward.example; arc=pass");
        Assert.Equal(DmarcDisposition.Reject, (await EvaluateAsync(hops, message, "lists.example")).Dmarc!.Disposition);
        var both = await EvaluateAsync(hops, message, "lists.example", "forward.example");
        Assert.Equal(DmarcDisposition.None, both.Dmarc!.Disposition);
        Assert.StartsWith("arc=pass i=2 as[2].d=forward.example aar[1]", both.Dmarc.ArcOverride, StringComparison.Ordinal);
    }

    /// <summary>A trusted sealer's dmarc=pass counts for the author domain it names in header.from only (a list that
    /// rewrote From, or an older hop, vouches for another domain than the one this message claims).</summary>
    [Theory]
    [InlineData("lists.example; dmarc=pass header.from=origin.example", true)]
    [InlineData("lists.example; dmarc=pass header.from=ORIGIN.example.", true)]
    [InlineData("lists.example; dmarc=pass header.from=attacker.example", false)]
    [InlineData("lists.example; dmarc=pass", false)]
    public async Task A_trusted_dmarc_pass_counts_only_for_the_author_domain(string results, bool lifted)
    {
        using var hops = new ArcHops();
        var result = await EvaluateAsync(hops, await ListAsync(hops, results), "lists.example");
        Assert.Equal(lifted ? DmarcDisposition.None : DmarcDisposition.Reject, result.Dmarc!.Disposition);
        if (lifted) Assert.EndsWith("aar[1] dmarc=pass", result.Dmarc.ArcOverride, StringComparison.Ordinal);
    }

    /// <summary>dkim/spf in a trusted AAR align with the author domain by organizational domain (the PSL, as DMARC's
    /// relaxed alignment in RFC 7489 mode): siblings under one organization align, a public suffix never does.</summary>
    [Theory]
    [InlineData("dkim=pass header.d=mail.origin.example", "news.origin.example", true)]
    [InlineData("spf=pass smtp.mailfrom=bounce@mail.origin.example", "news.origin.example", true)]
    [InlineData("dkim=pass header.d=origin.example", "news.origin.example", true)]
    [InlineData("dkim=pass header.d=mail.origin.co.uk", "origin.co.uk", true)]
    [InlineData("dkim=pass header.d=co.uk", "origin.co.uk", false)]
    [InlineData("spf=pass smtp.mailfrom=x@co.uk", "origin.co.uk", false)]
    [InlineData("dkim=pass header.d=other.co.uk", "origin.co.uk", false)]
    public void Aligned_means_the_same_organizational_domain(string result, string author, bool lifted)
    {
        var chain = new ArcChainResult(ArcResult.Pass, null, 1, 0, [new ArcSet(1, "lists.example", "lists.example", "lists.example; " + result)]);
        var why = ArcTrust.Override(chain, author, ["lists.example"]);
        Assert.True(lifted == why is not null, why ?? "not lifted");
    }
}
