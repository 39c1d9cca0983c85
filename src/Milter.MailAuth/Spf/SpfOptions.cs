namespace Milter.MailAuth.Spf;

/// <summary>Limits and receiver settings for <see cref="SpfChecker"/>; defaults are the RFC 7208 values.</summary>
public sealed record SpfOptions
{
    /// <summary>Terms that query DNS (include, a, mx, ptr, exists, redirect) per check (RFC 7208 4.6.4: 10).</summary>
    public int MaxDnsLookups { get; init; } = 10;
    /// <summary>Lookups answering NXDOMAIN or no records per check (RFC 7208 4.6.4: 2).</summary>
    public int MaxVoidLookups { get; init; } = 2;
    /// <summary>MX names one "mx" term may look up; more is a permerror (RFC 7208 4.6.4: 10).</summary>
    public int MaxMxNames { get; init; } = 10;
    /// <summary>PTR names one "ptr" term or %{p} looks at; the rest are ignored (RFC 7208 4.6.4: 10).</summary>
    public int MaxPtrNames { get; init; } = 10;
    /// <summary>Overall time for one check; exceeding it gives temperror (RFC 7208 4.6.4: at least 20 s).</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>This receiver's host name: the %{r} macro and the Received-SPF receiver key.</summary>
    public string ReceiverName { get; init; } = "unknown";
    /// <summary>Explanation used for fail when the domain gives none (macro-expanded like exp= text).</summary>
    public string DefaultExplanation { get; init; } = "%{d} does not designate %{c} as a permitted sender";
    /// <summary>Longest explanation kept; longer text is cut.</summary>
    public int MaxExplanationLength { get; init; } = 512;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxDnsLookups is < 1 or > 100) errors.Add($"Spf:MaxDnsLookups is {MaxDnsLookups}; it must be between 1 and 100 (RFC 7208 says 10).");
        if (MaxVoidLookups is < 0 or > 100) errors.Add($"Spf:MaxVoidLookups is {MaxVoidLookups}; it must be between 0 and 100 (RFC 7208 recommends 2).");
        if (MaxMxNames is < 1 or > 100) errors.Add($"Spf:MaxMxNames is {MaxMxNames}; it must be between 1 and 100.");
        if (MaxPtrNames is < 1 or > 100) errors.Add($"Spf:MaxPtrNames is {MaxPtrNames}; it must be between 1 and 100.");
        if (CheckTimeout < TimeSpan.FromMilliseconds(100) || CheckTimeout > TimeSpan.FromMinutes(5))
            errors.Add("Spf:CheckTimeout must be between 100 ms and 5 minutes (RFC 7208 suggests at least 20 s).");
        if (string.IsNullOrWhiteSpace(ReceiverName)) errors.Add("Spf:ReceiverName must not be empty.");
        var explanationError = DefaultExplanation is null ? "it is null"
            : MacroString.TryParse(DefaultExplanation, MacroScope.Explanation, out _);
        if (explanationError is not null)
            errors.Add($"Spf:DefaultExplanation is not a valid explanation string: {explanationError}.");
        if (MaxExplanationLength is < 16 or > 4096) errors.Add("Spf:MaxExplanationLength must be between 16 and 4096.");
        return errors;
    }

    public void ThrowIfInvalid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid SPF settings: " + string.Join(" ", errors));
    }
}
