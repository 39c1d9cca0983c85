namespace Milter.MailAuth.Dmarc;

/// <summary>The tag-list reader behind <see cref="DmarcRecord.TryParse"/>; no regular expressions.</summary>
internal static class DmarcRecordParser
{
    private const int MaxWarnings = 16;

    public static bool StartsWithVersion(string txt)
    {
        var span = txt.AsSpan().TrimStart();
        int semi = span.IndexOf(';');
        var first = semi < 0 ? span : span[..semi];
        return SplitTag(first, out var name, out var value) && IsVersion(name, value);
    }

    // dmarc-version = "v" *WSP "=" *WSP %x44.4d.41.52.43.31: the tag name is case-insensitive, "DMARC1" is not.
    private static bool IsVersion(ReadOnlySpan<char> name, ReadOnlySpan<char> value) =>
        name.Equals("v", StringComparison.OrdinalIgnoreCase) && value.SequenceEqual("DMARC1");

    public static bool TryParse(string txt, out DmarcRecord? record, out string? error)
    {
        record = null;
        if (string.IsNullOrWhiteSpace(txt))
        {
            error = "empty record";
            return false;
        }
        if (txt.Length > DmarcRecord.MaxRecordLength)
        {
            error = $"record is {txt.Length} characters long; at most {DmarcRecord.MaxRecordLength} are accepted";
            return false;
        }
        if (!StartsWithVersion(txt))
        {
            error = $"record does not start with v=DMARC1 (begins \"{Shorten(txt)}\")";
            return false;
        }

        var r = new DmarcRecord(txt);
        var warnings = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        bool pSeen = false, pValid = false, spInvalid = false;
        var span = txt.AsSpan();
        bool first = true;
        foreach (var range in span.Split(';'))
        {
            var part = span[range].Trim();
            if (first)
            {
                first = false;
                continue; // v=DMARC1, checked above
            }
            if (part.IsEmpty)
                continue; // trailing or doubled ';'
            if (!SplitTag(part, out var nameSpan, out var value))
            {
                Warn(warnings, $"malformed tag \"{Shorten(part.ToString())}\" ignored");
                continue;
            }
            string name = nameSpan.ToString().ToLowerInvariant();
            if (!seen.Add(name))
            {
                Warn(warnings, $"{name}: repeated tag ignored");
                continue;
            }
            switch (name)
            {
                case "v":
                    Warn(warnings, "v: repeated tag ignored");
                    break;
                case "p":
                    pSeen = true;
                    if (DmarcKeywords.TryParsePolicy(value, out var p)) { r.Policy = p; pValid = true; }
                    else Warn(warnings, Invalid("p", value, "none, quarantine or reject"));
                    break;
                case "sp":
                    if (DmarcKeywords.TryParsePolicy(value, out var sp)) r.SubdomainPolicy = sp;
                    else { spInvalid = true; Warn(warnings, Invalid("sp", value, "none, quarantine or reject")); }
                    break;
                case "np":
                    if (DmarcKeywords.TryParsePolicy(value, out var np)) r.NonExistentPolicy = np;
                    else { r.NonExistentPolicyInvalid = true; Warn(warnings, Invalid("np", value, "none, quarantine or reject")); }
                    break;
                case "adkim":
                    r.DkimAlignment = ParseAlignment("adkim", value, warnings);
                    break;
                case "aspf":
                    r.SpfAlignment = ParseAlignment("aspf", value, warnings);
                    break;
                case "t":
                    if (value.Equals("y", StringComparison.OrdinalIgnoreCase)) r.Testing = true;
                    else if (!value.Equals("n", StringComparison.OrdinalIgnoreCase)) Warn(warnings, Invalid("t", value, "y or n; using n"));
                    break;
                case "psd":
                    r.Psd = ParsePsd(value, warnings);
                    break;
                case "rua":
                    r.AggregateReportUris = ParseUris("rua", value, warnings);
                    break;
                case "ruf":
                    r.FailureReportUris = ParseUris("ruf", value, warnings);
                    break;
                case "fo":
                    r.FailureOptions = ParseFailureOptions(value, warnings);
                    break;
                case "pct":
                    if (int.TryParse(value, System.Globalization.NumberStyles.None, null, out int pct) && pct <= 100) r.Percent = pct;
                    else Warn(warnings, Invalid("pct", value, "an integer 0..100; using 100"));
                    break;
                case "rf":
                    r.ReportFormat = ParseReportFormat(value, warnings);
                    break;
                case "ri":
                    if (uint.TryParse(value, System.Globalization.NumberStyles.None, null, out uint ri)) r.ReportInterval = ri;
                    else Warn(warnings, Invalid("ri", value, "seconds as a 32-bit unsigned integer; using 86400"));
                    break;
                default:
                    break; // unknown tags MUST be ignored (RFC 9989 4.7)
            }
        }
        if (!pSeen)
            r.PolicyProblem = "no p tag";
        else if (!pValid)
            r.PolicyProblem = "invalid p value";
        else if (spInvalid)
            r.PolicyProblem = "invalid sp value";
        r.Warnings = warnings;
        record = r;
        error = null;
        return true;
    }

    /// <summary>tag-spec = tag-name *WSP "=" *WSP tag-value; name is ALPHA *(ALPHA / DIGIT / "_").</summary>
    private static bool SplitTag(ReadOnlySpan<char> part, out ReadOnlySpan<char> name, out ReadOnlySpan<char> value)
    {
        int eq = part.IndexOf('=');
        name = eq < 0 ? default : part[..eq].Trim();
        value = eq < 0 ? default : part[(eq + 1)..].Trim();
        if (eq < 0 || name.IsEmpty || !char.IsAsciiLetter(name[0]))
            return false;
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                return false;
        }
        return true;
    }

    private static DmarcAlignmentMode ParseAlignment(string tag, ReadOnlySpan<char> value, List<string> warnings)
    {
        if (value.Equals("s", StringComparison.OrdinalIgnoreCase)) return DmarcAlignmentMode.Strict;
        if (!value.Equals("r", StringComparison.OrdinalIgnoreCase)) Warn(warnings, Invalid(tag, value, "r or s; using r"));
        return DmarcAlignmentMode.Relaxed;
    }

    private static DmarcPsd ParsePsd(ReadOnlySpan<char> value, List<string> warnings)
    {
        if (value.Equals("y", StringComparison.OrdinalIgnoreCase)) return DmarcPsd.Yes;
        if (value.Equals("n", StringComparison.OrdinalIgnoreCase)) return DmarcPsd.No;
        if (!value.Equals("u", StringComparison.OrdinalIgnoreCase)) Warn(warnings, Invalid("psd", value, "y, n or u; using u"));
        return DmarcPsd.Unknown;
    }

    /// <summary>dmarc-uri *(*WSP "," *WSP dmarc-uri); invalid URIs are skipped (RFC 9990: skip malformed ones).</summary>
    private static IReadOnlyList<DmarcReportUri> ParseUris(string tag, ReadOnlySpan<char> value, List<string> warnings)
    {
        var list = new List<DmarcReportUri>();
        foreach (var range in value.Split(','))
        {
            var item = value[range].Trim();
            if (list.Count >= DmarcRecord.MaxUris)
            {
                Warn(warnings, $"{tag}: more than {DmarcRecord.MaxUris} URIs; the rest ignored");
                break;
            }
            if (DmarcReportUri.TryParse(item, out var uri)) list.Add(uri!);
            else Warn(warnings, Invalid(tag, item, "a URI; ignored"));
        }
        return list;
    }

    /// <summary>fo: colon-separated 0, 1, d, s; "0" and "1" are mutually exclusive (RFC 9989 4.7).</summary>
    private static string ParseFailureOptions(ReadOnlySpan<char> value, List<string> warnings)
    {
        var options = new List<char>(4);
        foreach (var range in value.Split(':'))
        {
            var item = value[range].Trim();
            char c = item.Length == 1 ? char.ToLowerInvariant(item[0]) : '\0';
            if (c is not ('0' or '1' or 'd' or 's'))
            {
                Warn(warnings, Invalid("fo", value, "0, 1, d or s separated by ':'; using 0"));
                return "0";
            }
            if (!options.Contains(c))
                options.Add(c);
        }
        if (options.Contains('0') && options.Contains('1'))
        {
            Warn(warnings, Invalid("fo", value, "0 and 1 together; using 0"));
            return "0";
        }
        return string.Join(':', options);
    }

    /// <summary>rf: colon-separated report formats; "afrf" is the only one defined (RFC 7489 6.3).</summary>
    private static string ParseReportFormat(ReadOnlySpan<char> value, List<string> warnings)
    {
        foreach (var range in value.Split(':'))
        {
            if (!value[range].Trim().Equals("afrf", StringComparison.OrdinalIgnoreCase))
            {
                Warn(warnings, Invalid("rf", value, "afrf; using afrf"));
                break;
            }
        }
        return "afrf";
    }

    private static string Invalid(string tag, ReadOnlySpan<char> value, string expected) =>
        $"{tag}: invalid value \"{Shorten(value.ToString())}\" (expected {expected})";

    private static void Warn(List<string> warnings, string warning)
    {
        if (warnings.Count < MaxWarnings)
            warnings.Add(warning);
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
