using Milter.MailAuth.Dmarc;
using Milter.Protocol;
using Milter.Reporting;

namespace Milter.Filter;

/// <summary>What the filter did with a message.</summary>
internal enum Verdict
{
    Continue,
    Quarantine,
    Reject,
    Tempfail,
}

internal static class VerdictText
{
    /// <summary>The word in the log line and the verification log ("action").</summary>
    public static string ToKeyword(this Verdict verdict) => verdict switch
    {
        Verdict.Quarantine => "quarantine",
        Verdict.Reject => "reject",
        Verdict.Tempfail => "tempfail",
        _ => "continue",
    };

    /// <summary>The DMARC disposition this verdict applied (RFC 9989 aggregate reports: what the receiver did).</summary>
    public static DmarcDisposition AppliedDisposition(this Verdict verdict) => verdict switch
    {
        Verdict.Reject => DmarcDisposition.Reject,
        Verdict.Quarantine => DmarcDisposition.Quarantine,
        _ => DmarcDisposition.None,
    };
}

/// <summary>The end of one message as data: the answer to the MTA, the verdict, and what goes into the logs.</summary>
/// <param name="Error">set for a failure (logged as an error line)</param>
/// <param name="AuthenticationResults">the value of the Authentication-Results field added, when one was</param>
internal sealed record MessageOutcome(MilterResponse Response, Verdict Verdict, string? Error = null, string? AuthenticationResults = null)
{
    public IReadOnlyList<SignedEntry> Signed { get; init; } = [];
    public int ForgedRemoved { get; init; }

    public static MessageOutcome Tempfail(string error, IReadOnlyList<SignedEntry>? signed = null)
        => new(MilterResponse.Tempfail, Verdict.Tempfail, error) { Signed = signed ?? [] };
}
