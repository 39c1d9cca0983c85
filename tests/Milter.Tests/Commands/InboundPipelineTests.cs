using System.Net;
using System.Text;
using Milter.Commands;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Inbound;
using Milter.MailAuth.Spf;

namespace Milter.Tests.Commands;

/// <summary><see cref="InboundPipeline"/> fed from a stream, as `milter check` feeds it, against the records Knot serves for the CLI tests.</summary>
[Collection(DmarcCliCollection.Name)]
public sealed class InboundPipelineTests(DmarcCliFixture lab)
{
    private const string Body =
        "From: alice@quar.dmarctld\r\nTo: bob@example.net\r\nSubject: strict\r\nMessage-ID: <e-1@example.net>\r\n\r\nHello.\r\n";

    private async Task<InboundResult> EvaluateAsync(string message, string mailFrom, string ip = "192.0.2.10")
    {
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes(message));
        return await new InboundPipeline(lab.Resolver(), new InboundPipelineOptions { AuthservId = "mx.test" }, TimeProvider.System)
            .EvaluateAsync(new SmtpEnvelope(IPAddress.Parse(ip), "mail.org.dmarctld", mailFrom), stream, CancellationToken.None);
    }

    [Fact]
    public async Task Strict_alignment_does_not_accept_an_organizational_domain_match()
    {
        // quar.dmarctld publishes aspf=s; an SPF pass for org.dmarctld is neither exact nor the same org.
        var outcome = await EvaluateAsync(Body, "bounce@org.dmarctld");
        Assert.Equal(SpfResultCode.Pass, outcome.Spf!.Code);
        Assert.Empty(outcome.Dkim);
        Assert.Equal(DmarcResultCode.Fail, outcome.Dmarc!.Result);
        Assert.Equal(DmarcDisposition.Quarantine, outcome.Dmarc!.Disposition);
        Assert.False(outcome.Dmarc!.SpfAligned);
        Assert.Equal(1, CheckExitCode.Of(outcome));
    }

    [Fact]
    public async Task The_dkim_domain_that_aligned_is_reported()
    {
        var signed = lab.Sign(Body.Replace("alice@quar.dmarctld", "alice@org.dmarctld", StringComparison.Ordinal), "org.dmarctld");
        var outcome = await EvaluateAsync(signed, "bounce@other.dmarctld", "203.0.113.9");
        Assert.Equal(DkimResult.Pass, Assert.Single(outcome.Dkim).Result);
        Assert.Equal(SpfResultCode.Fail, outcome.Spf!.Code);
        Assert.Equal(DmarcResultCode.Pass, outcome.Dmarc!.Result);
        Assert.Equal("org.dmarctld", outcome.Dmarc!.AlignedDkimDomain);
        Assert.Equal(0, CheckExitCode.Of(outcome));
        Assert.Equal(["spf", "dkim", "dmarc"], outcome.Clauses.Select(r => r.Method));
    }

    [Fact]
    public async Task The_spf_identity_that_aligns_is_the_mail_from_domain_not_a_redirect_target()
    {
        // redir.org.dmarctld redirects to _spf.other.dmarctld, another organization; the identifier DMARC aligns is
        // still the MAIL FROM domain (RFC 9989 4.4.2), which is in org.dmarctld.
        var message = Body.Replace("quar.dmarctld", "org.dmarctld", StringComparison.Ordinal);
        var outcome = await EvaluateAsync(message, "x@redir.org.dmarctld");
        Assert.Equal(SpfResultCode.Pass, outcome.Spf!.Code);
        Assert.Equal("_spf.other.dmarctld", outcome.Spf!.Domain); // the policy that gave the result, which does not align
        Assert.Equal(DmarcResultCode.Pass, outcome.Dmarc!.Result);
        Assert.True(outcome.Dmarc!.SpfAligned);
    }
}
