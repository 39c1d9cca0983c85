namespace Milter.MailAuth.Dmarc;

/// <summary>A requested handling policy (the p, sp and np values).</summary>
public enum DmarcPolicy
{
    None,
    Quarantine,
    Reject,
}

/// <summary>Identifier alignment mode (adkim, aspf).</summary>
public enum DmarcAlignmentMode
{
    Relaxed,
    Strict,
}

/// <summary>The psd tag of RFC 9989: y = Public Suffix Domain, n = Organizational Domain, u = unknown (default).</summary>
public enum DmarcPsd
{
    Unknown,
    Yes,
    No,
}

/// <summary>Which specification drives policy discovery and the Organizational Domain.</summary>
public enum DmarcMode
{
    /// <summary>RFC 9989: DNS tree walk, psd/np/t honoured, pct ignored.</summary>
    Rfc9989,
    /// <summary>RFC 7489: Public Suffix List, record at the author domain else at the org domain, pct honoured.</summary>
    Rfc7489,
}

/// <summary>The DMARC result (RFC 8601 2.7 / RFC 9989 9.2 vocabulary).</summary>
public enum DmarcResultCode
{
    None,
    Pass,
    Fail,
    TempError,
    PermError,
}

/// <summary>What the policy asks the receiver to do with the message, after t=y or pct sampling.</summary>
public enum DmarcDisposition
{
    None,
    Quarantine,
    Reject,
}

public static class DmarcKeywords
{
    public static string ToKeyword(this DmarcPolicy policy) => policy switch
    {
        DmarcPolicy.Quarantine => "quarantine",
        DmarcPolicy.Reject => "reject",
        _ => "none",
    };

    public static string ToKeyword(this DmarcDisposition disposition) => disposition switch
    {
        DmarcDisposition.Quarantine => "quarantine",
        DmarcDisposition.Reject => "reject",
        _ => "none",
    };

    public static string ToKeyword(this DmarcResultCode result) => result switch
    {
        DmarcResultCode.Pass => "pass",
        DmarcResultCode.Fail => "fail",
        DmarcResultCode.TempError => "temperror",
        DmarcResultCode.PermError => "permerror",
        _ => "none",
    };

    public static string ToKeyword(this DmarcAlignmentMode mode) => mode == DmarcAlignmentMode.Strict ? "s" : "r";

    /// <summary>The next lower level: reject to quarantine, quarantine to none (RFC 9989 t=y; RFC 7489 6.6.4 pct).</summary>
    public static DmarcPolicy Lower(this DmarcPolicy policy) => policy switch
    {
        DmarcPolicy.Reject => DmarcPolicy.Quarantine,
        _ => DmarcPolicy.None,
    };

    internal static DmarcDisposition ToDisposition(this DmarcPolicy policy) => policy switch
    {
        DmarcPolicy.Reject => DmarcDisposition.Reject,
        DmarcPolicy.Quarantine => DmarcDisposition.Quarantine,
        _ => DmarcDisposition.None,
    };

    internal static bool TryParsePolicy(ReadOnlySpan<char> value, out DmarcPolicy policy)
    {
        // Keyword values are ABNF literals, hence case-insensitive (p=Reject is valid).
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase)) { policy = DmarcPolicy.None; return true; }
        if (value.Equals("quarantine", StringComparison.OrdinalIgnoreCase)) { policy = DmarcPolicy.Quarantine; return true; }
        if (value.Equals("reject", StringComparison.OrdinalIgnoreCase)) { policy = DmarcPolicy.Reject; return true; }
        policy = DmarcPolicy.None;
        return false;
    }
}
