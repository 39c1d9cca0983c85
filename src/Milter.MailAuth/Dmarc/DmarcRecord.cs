namespace Milter.MailAuth.Dmarc;

/// <summary>The p/sp/np values that apply after defaults and the invalid-policy rule.</summary>
public sealed record DmarcPolicySet(DmarcPolicy P, DmarcPolicy Sp, DmarcPolicy Np, bool ActingAsNone);

/// <summary>
/// A parsed DMARC policy record (RFC 9989 4.7, plus the RFC 7489 tags pct, rf and ri it dropped).
/// Bad tag values have been replaced by their defaults and are listed in <see cref="Warnings"/>
/// (RFC 9989 4.7: "syntax errors in the remainder of the record MUST be discarded in favor of default values").
/// </summary>
public sealed class DmarcRecord
{
    public const int MaxRecordLength = 4096;
    public const int MaxUris = 32;

    internal DmarcRecord(string text) => Text = text;

    public string Text { get; }
    /// <summary>p as published; null when missing or invalid (see <see cref="PolicyProblem"/>).</summary>
    public DmarcPolicy? Policy { get; internal set; }
    /// <summary>sp as published; null when absent or invalid.</summary>
    public DmarcPolicy? SubdomainPolicy { get; internal set; }
    /// <summary>np as published (RFC 9989); null when absent or invalid.</summary>
    public DmarcPolicy? NonExistentPolicy { get; internal set; }
    /// <summary>Why p (or sp) cannot be used as published: missing, or an invalid p or sp value; null when fine.</summary>
    public string? PolicyProblem { get; internal set; }
    /// <summary>np was present with an invalid value (a problem only in RFC 9989 mode, where np is a known tag).</summary>
    public bool NonExistentPolicyInvalid { get; internal set; }
    public DmarcAlignmentMode DkimAlignment { get; internal set; } = DmarcAlignmentMode.Relaxed;
    public DmarcAlignmentMode SpfAlignment { get; internal set; } = DmarcAlignmentMode.Relaxed;
    /// <summary>t=y (RFC 9989): testing, apply the next lower policy.</summary>
    public bool Testing { get; internal set; }
    public DmarcPsd Psd { get; internal set; } = DmarcPsd.Unknown;
    /// <summary>Syntactically valid rua URIs, in order (unsupported schemes included; see <see cref="DmarcReportUri.MailAddress"/>).</summary>
    public IReadOnlyList<DmarcReportUri> AggregateReportUris { get; internal set; } = [];
    public IReadOnlyList<DmarcReportUri> FailureReportUris { get; internal set; } = [];
    /// <summary>fo, normalized ("0" by default; colon-separated 0, 1, d, s).</summary>
    public string FailureOptions { get; internal set; } = "0";
    /// <summary>pct (RFC 7489, historic in RFC 9989): 0..100, default 100.</summary>
    public int Percent { get; internal set; } = 100;
    /// <summary>rf (RFC 7489, historic): default "afrf".</summary>
    public string ReportFormat { get; internal set; } = "afrf";
    /// <summary>ri (RFC 7489, historic): seconds, default 86400.</summary>
    public uint ReportInterval { get; internal set; } = 86400;
    /// <summary>Values that were discarded in favour of defaults, and malformed or repeated tags.</summary>
    public IReadOnlyList<string> Warnings { get; internal set; } = [];

    public bool HasValidRua => AggregateReportUris.Count > 0;

    /// <summary>
    /// Parses a TXT record (its strings already joined). False only when it is not a DMARC record at all: empty,
    /// too long, or not starting with v=DMARC1 (the value is case-sensitive). Everything else gives a record.
    /// </summary>
    public static bool TryParse(string txt, out DmarcRecord? record, out string? error) =>
        DmarcRecordParser.TryParse(txt, out record, out error);

    /// <summary>Whether a TXT record starts with the v=DMARC1 tag (the filter of RFC 9989 4.10 step 1).</summary>
    public static bool IsDmarcRecord(string txt) => DmarcRecordParser.StartsWithVersion(txt);

    /// <summary>
    /// The policies to apply, or null when DMARC is not applied. RFC 9989 4.10.1 / RFC 7489 6.6.3 step 6: with
    /// a missing or invalid p, or an invalid sp (or np in RFC 9989 mode), act as if p=none when rua holds a valid
    /// URI, else apply no DMARC processing. np is an RFC 9989 tag; in RFC 7489 mode it falls back to sp.
    /// </summary>
    public DmarcPolicySet? EffectivePolicies(DmarcMode mode)
    {
        bool problem = PolicyProblem is not null || (mode == DmarcMode.Rfc9989 && NonExistentPolicyInvalid);
        if (problem)
            return HasValidRua ? new DmarcPolicySet(DmarcPolicy.None, DmarcPolicy.None, DmarcPolicy.None, true) : null;
        var p = Policy!.Value;
        var sp = SubdomainPolicy ?? p;
        var np = mode == DmarcMode.Rfc9989 ? NonExistentPolicy ?? sp : sp;
        return new DmarcPolicySet(p, sp, np, false);
    }

    public override string ToString() => Text;
}
