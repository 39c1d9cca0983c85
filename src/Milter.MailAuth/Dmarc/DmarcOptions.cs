namespace Milter.MailAuth.Dmarc;

/// <summary>Settings of <see cref="DmarcEvaluator"/>; the defaults follow RFC 9989.</summary>
public sealed record DmarcOptions
{
    public DmarcMode Mode { get; init; } = DmarcMode.Rfc9989;
    /// <summary>RFC 7489 mode: a public_suffix_list.dat to use instead of the copy shipped with Milter.</summary>
    public string? PublicSuffixListPath { get; init; }
    /// <summary>RFC 7489 mode, with <see cref="PublicSuffixListPath"/>: also load the PRIVATE section of the list.</summary>
    public bool IncludePrivateSuffixes { get; init; } = true;
    /// <summary>Distinct passing identifier domains (DKIM d= and the SPF domain) checked for relaxed alignment per
    /// message; each may cost a tree walk of up to 8 queries. Others count as not aligned.</summary>
    public int MaxIdentifierDomains { get; init; } = 8;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Mode)) errors.Add($"Dmarc:Mode {Mode} is not Rfc9989 or Rfc7489.");
        if (PublicSuffixListPath is not null && !File.Exists(PublicSuffixListPath))
            errors.Add($"Dmarc:PublicSuffixListPath: file {PublicSuffixListPath} does not exist.");
        if (MaxIdentifierDomains is < 1 or > 50) errors.Add($"Dmarc:MaxIdentifierDomains is {MaxIdentifierDomains}; it must be between 1 and 50.");
        return errors;
    }
}
