namespace Milter.MailAuth.Dkim;

/// <summary>DKIM canonicalization algorithms (RFC 6376 3.4).</summary>
public enum DkimCanonicalization
{
    Simple,
    Relaxed,
}

/// <summary>Parsing and formatting of the c= tag value.</summary>
public static class DkimCanonicalizationNames
{
    public static string ToTagValue(DkimCanonicalization c) => c == DkimCanonicalization.Relaxed ? "relaxed" : "simple";

    public static bool TryParse(string value, out DkimCanonicalization canonicalization)
    {
        if (value.Equals("simple", StringComparison.OrdinalIgnoreCase))
        {
            canonicalization = DkimCanonicalization.Simple;
            return true;
        }
        if (value.Equals("relaxed", StringComparison.OrdinalIgnoreCase))
        {
            canonicalization = DkimCanonicalization.Relaxed;
            return true;
        }
        canonicalization = DkimCanonicalization.Simple;
        return false;
    }

    /// <summary>Parses a c= value "header[/body]"; a missing body part means "simple" (RFC 6376 3.5).</summary>
    public static bool TryParsePair(string value, out DkimCanonicalization header, out DkimCanonicalization body)
    {
        body = DkimCanonicalization.Simple;
        int slash = value.IndexOf('/');
        if (slash < 0)
        {
            return TryParse(value, out header);
        }
        return TryParse(value[..slash], out header) & TryParse(value[(slash + 1)..], out body);
    }

    public static string ToPairValue(DkimCanonicalization header, DkimCanonicalization body) =>
        ToTagValue(header) + "/" + ToTagValue(body);
}
