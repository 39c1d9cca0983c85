using System.Net;
using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Inbound;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>The ARC step of the inbound pipeline: one body pass with DKIM, its clause in the one Authentication-Results.</summary>
public sealed class ArcPipelineTests
{
    private static readonly SmtpEnvelope Envelope = new(IPAddress.Parse("192.0.2.7"), "list.example", "joe@origin.example");

    private static async Task<InboundResult> EvaluateAsync(ArcHops hops, byte[] message, bool arc = true)
    {
        var pipeline = new InboundPipeline(hops.Dns, new InboundPipelineOptions { AuthservId = "mx.example", Spf = null, Dmarc = null, Arc = arc },
            TimeProvider.System);
        return await pipeline.EvaluateAsync(Envelope, new MemoryStream(message), CancellationToken.None);
    }

    [Fact]
    public async Task A_passing_chain_is_the_first_clause_with_its_sealers_the_client_and_oldest_pass()
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(Encoding.ASCII.GetBytes(ArcHops.Unsigned), hops.Sealer("example.org"));
        (message, _, _) = await hops.HopAsync(message, hops.Sealer("lists.example.net"));
        var result = await EvaluateAsync(hops, message);
        Assert.Equal(ArcResult.Pass, result.Arc.Result);
        Assert.Equal(" mx.example; arc=pass (i=2 sealers example.org,lists.example.net) smtp.remote-ip=192.0.2.7 header.oldest-pass=0; dkim=none",
            result.FormatAuthenticationResults(998));
    }

    [Fact]
    public async Task A_failing_chain_gives_arc_fail_with_the_reason()
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(Encoding.ASCII.GetBytes(ArcHops.Unsigned), hops.Sealer("example.org"));
        var result = await EvaluateAsync(hops, [.. message, .. "changed\r\n"u8.ToArray()]);
        Assert.Equal(ArcResult.Fail, result.Arc.Result);
        Assert.StartsWith(" mx.example; arc=fail reason=\"ARC-Message-Signature i=1: body hash did not verify\" smtp.remote-ip=192.0.2.7;",
            result.FormatAuthenticationResults(998));
    }

    [Fact]
    public async Task Without_a_chain_or_with_arc_off_there_is_no_arc_clause()
    {
        using var hops = new ArcHops();
        var (sealedMessage, _, _) = await hops.HopAsync(Encoding.ASCII.GetBytes(ArcHops.Unsigned), hops.Sealer("example.org"));
        Assert.Equal(" mx.example; dkim=none", (await EvaluateAsync(hops, Encoding.ASCII.GetBytes(ArcHops.Unsigned))).FormatAuthenticationResults(998));
        var off = await EvaluateAsync(hops, sealedMessage, arc: false);
        Assert.Equal(ArcResult.None, off.Arc.Result);
        Assert.Equal(" mx.example; dkim=none", off.FormatAuthenticationResults(998));
    }
}
