namespace Milter.Reporting;

/// <summary>One line of the verification log: what was checked for one message and what was decided.</summary>
public sealed record VerificationRecord
{
    public DateTimeOffset Time { get; init; }
    public string? QueueId { get; init; }
    public string? MessageId { get; init; }
    public string? ClientAddress { get; init; }
    public string? ClientName { get; init; }
    public string? Helo { get; init; }
    public string? MailFrom { get; init; }
    public string? FromDomain { get; init; }
    public IReadOnlyList<DkimRecordEntry> Dkim { get; init; } = [];
    public SpfRecordEntry? Spf { get; init; }
    public DmarcRecordEntry? Dmarc { get; init; }
    public string? Arc { get; init; }
    public IReadOnlyList<SignedEntry> Signed { get; init; } = [];

    /// <summary>The Authentication-Results value written, when one was.</summary>
    public string? AuthenticationResults { get; init; }

    /// <summary>What the milter told the MTA: "continue", "tempfail", "reject", ...</summary>
    public string Action { get; init; } = "continue";

    public double ElapsedMs { get; init; }
}

public sealed record DkimRecordEntry(string Result, string? Domain, string? Selector, string? Algorithm, string? HeaderI, string? Reason);

public sealed record SpfRecordEntry(string Result, string? Domain, string? Explanation, string? Reason = null);

public sealed record DmarcRecordEntry(string Result, string? Domain, string? Policy, string? Disposition);

public sealed record SignedEntry(string Domain, string Selector, string Algorithm);
