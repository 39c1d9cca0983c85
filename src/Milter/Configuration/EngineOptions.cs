using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Inbound;
using Milter.MailAuth.Spf;

namespace Milter.Configuration;

/// <summary>The engines' options as the configuration sets them: one mapping for the daemon and the CLI.</summary>
public static class EngineOptions
{
    public static DnsResolverOptions ToDnsResolverOptions(this MilterOptions o) => new()
    {
        Servers = o.Dns.Servers ?? [],
        Timeout = TimeSpan.FromMilliseconds(o.Dns.TimeoutMs),
    };

    public static DkimVerifierOptions ToDkimVerifierOptions(this MilterOptions o) => new()
    {
        MinimumKeyBits = o.Verification.MinimumKeyBits,
        MaxSignatures = o.Verification.MaxSignatures,
    };

    public static SpfOptions ToSpfOptions(this MilterOptions o) => new()
    {
        ReceiverName = o.AuthservId ?? "unknown",
        CheckTimeout = TimeSpan.FromMilliseconds(o.Spf.TimeoutMs),
    };

    public static DmarcOptions ToDmarcOptions(this MilterOptions o) => new()
    {
        Mode = o.Dmarc.Mode == "rfc7489" ? DmarcMode.Rfc7489 : DmarcMode.Rfc9989,
        PublicSuffixListPath = string.IsNullOrEmpty(o.Dmarc.PublicSuffixListPath) ? null : o.Dmarc.PublicSuffixListPath,
    };

    /// <summary>The inbound pipeline as the daemon runs it (SPF and DMARC off when disabled); <paramref name="authservId"/>
    /// overrides the configured one (`check --authserv-id`).</summary>
    public static InboundPipelineOptions ToInboundPipelineOptions(this MilterOptions o, string? authservId = null)
    {
        var id = authservId ?? o.AuthservId!;
        return new InboundPipelineOptions
        {
            AuthservId = id,
            Spf = o.Spf.Enabled ? o.ToSpfOptions() with { ReceiverName = id } : null,
            Dkim = o.ToDkimVerifierOptions(),
            Dmarc = o.Dmarc.Enabled ? o.ToDmarcOptions() : null,
            SealBodyHash = o.Arc.Seal.IsEnabled(),
            TrustedArcSealers = o.Dmarc.TrustedArcSealers ?? [],
        };
    }
}
