using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Inbound;
using Milter.MailAuth.Spf;

namespace Milter.Commands;

/// <summary>The exit code of `milter check`.</summary>
internal static class CheckExitCode
{
    /// <summary>
    /// 0 when DMARC passes, or when no DMARC record applies (or DMARC is off) and SPF or a DKIM signature passes;
    /// 3 when DMARC is temperror, or when it did not pass and an SPF or DKIM check failed temporarily (that check
    /// might have made it pass); 1 otherwise.
    /// </summary>
    public static int Of(InboundResult o) => o.Dmarc?.Result switch
    {
        DmarcResultCode.Pass => Program.ExitOk,
        DmarcResultCode.TempError => Program.ExitTemporary,
        DmarcResultCode.None or null when o.Spf?.Code == SpfResultCode.Pass || o.Dkim.Any(d => d.IsPass) => Program.ExitOk,
        _ when o.Spf?.Code == SpfResultCode.TempError || o.Dkim.Any(d => d.Result == DkimResult.TempError) => Program.ExitTemporary,
        _ => Program.ExitCheckFailed,
    };
}
