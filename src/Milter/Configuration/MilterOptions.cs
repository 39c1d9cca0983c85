namespace Milter.Configuration;

/// <summary>The whole configuration, as bound from JSON, environment (MILTER_ prefix, __ between levels) and the command line.
/// The property initialisers here are THE defaults (the daemon without a config file runs on them); the two that depend
/// on the machine are computed: <see cref="AuthservId"/> (<see cref="ConfigLoader.ApplyDefaults"/>) and
/// <see cref="ReportsSection.DataDirectory"/> (<see cref="Reporting.Aggregate.ReportDataDirectory"/>). A list that the
/// configuration sets replaces the default list (<see cref="ConfigLoader"/>; the binder would append to it).
/// Values are checked by <see cref="MilterOptionsValidator"/>.</summary>
public sealed class MilterOptions
{
    public string[]? Listen { get; set; } = ["inet:8891@127.0.0.1"];
    /// <summary>The authserv-id of our Authentication-Results headers (RFC 8601 2.5); empty or unset: the host name.</summary>
    public string? AuthservId { get; set; }
    public DnsSection Dns { get; set; } = new();
    public SigningSection Signing { get; set; } = new();
    public VerificationSection Verification { get; set; } = new();
    public SpfSection Spf { get; set; } = new();
    public DmarcSection Dmarc { get; set; } = new();
    public ArcSection Arc { get; set; } = new();
    public ReportLogSection ReportLog { get; set; } = new();
    public ReportsSection Reports { get; set; } = new();
    public ServerSection Server { get; set; } = new();
    public MetricsSection Metrics { get; set; } = new();
    /// <summary>Console log level: Trace, Debug, Information, Warning, Error.</summary>
    public string LogLevel { get; set; } = "Information";
}

public sealed class DnsSection
{
    /// <summary>Resolvers as HOST[:PORT]; empty: the system's.</summary>
    public string[]? Servers { get; set; } = [];
    public int TimeoutMs { get; set; } = 2000;
}

public sealed class SigningKeyOptions
{
    public string? Domain { get; set; }
    public string? Selector { get; set; }
    public string? KeyFile { get; set; }
    /// <summary>Optional: rsa-sha256 or ed25519-sha256; taken from the key when absent.</summary>
    public string? Algorithm { get; set; }
}

/// <summary>One signing rule (as SigningTable + KeyTable): when the From address matches one of <see cref="From"/>, the
/// message is signed with every key of <see cref="Keys"/>. Rules are tried in order; the first match wins unless it says
/// <see cref="Continue"/> (OpenDKIM's MultipleSignatures), then later matching rules add their signatures too.</summary>
public sealed class SigningRuleOptions
{
    /// <summary>Patterns, case-insensitive, <c>*</c> matching any characters: with an <c>@</c> (<c>*@example.com</c>,
    /// <c>user@example.com</c>) matched against the whole address, without one (<c>example.com</c>, <c>*.example.com</c>)
    /// against the domain.</summary>
    public string[]? From { get; set; } = [];
    /// <summary>Every pattern is matched against the whole address, as OpenDKIM's refile: SigningTable does.</summary>
    public bool MatchAddress { get; set; }
    /// <summary>The keys; a key's Domain "%" is the From domain, a "%" in its KeyFile is replaced by the From domain.</summary>
    public SigningKeyOptions[]? Keys { get; set; } = [];
    /// <summary>After this rule, later matching rules sign too.</summary>
    public bool Continue { get; set; }
}

public sealed class SigningSection
{
    public SigningKeyOptions[]? Keys { get; set; } = [];
    /// <summary>Ordered From-address rules naming keys (<see cref="SigningRuleOptions"/>); tried before <see cref="Keys"/>.</summary>
    public SigningRuleOptions[]? Rules { get; set; } = [];
    /// <summary>Clients signed for: IP addresses, CIDR networks, host names, .domain names; "!" excludes, the most
    /// precise entry wins (as OpenDKIM's InternalHosts).</summary>
    public string[]? InternalHosts { get; set; } = ["127.0.0.1", "::1"];
    public bool SignAuthenticated { get; set; } = true;
    public string Canonicalization { get; set; } = "relaxed/relaxed";
    /// <summary>Header fields to sign; null: the signer's own list.</summary>
    public string[]? SignHeaders { get; set; }
    public string[]? OversignHeaders { get; set; } = ["From"];
    public bool SubDomains { get; set; }
    /// <summary>Accept private key files readable by group or others (container volumes often need it).</summary>
    public bool AllowGroupReadableKeys { get; set; }
    /// <summary>When above zero, signatures carry x= (expiry) this many seconds after t=.</summary>
    public int SignatureLifetimeSeconds { get; set; }
    /// <summary>Key rotation (`milter keys rotate`): when the daemon switches to a pending key, when an old record may go.</summary>
    public RotationSection Rotation { get; set; } = new();
}

/// <summary>Signing:Rotation: the daemon switches to a pending key (`milter keys rotate`) once every configured resolver has
/// served its record for <see cref="PublishedForMinutes"/>; `keys status` says the old record can be removed
/// <see cref="RetireAfterDays"/> after the switch.</summary>
public sealed class RotationSection
{
    /// <summary>How long every resolver must have served the new record before the switch: other resolvers may still hold a
    /// negative answer (NXDOMAIN) for up to the zone's SOA minimum, at most a day in practice (RFC 2308 5).</summary>
    public double PublishedForMinutes { get; set; } = 1440;
    /// <summary>After the switch, the old record stays published this long: mail signed with it may still be queued or
    /// re-verified (forwarders, mailing lists).</summary>
    public double RetireAfterDays { get; set; } = 7;
    /// <summary>How often the daemon reads the rotation state and looks the pending record up.</summary>
    public int CheckIntervalSeconds { get; set; } = 300;
    /// <summary>Where `keys rotate` writes new keys; unset: the directory of the domain's current key file.</summary>
    public string? KeyDirectory { get; set; }
}

public sealed class VerificationSection
{
    public int MinimumKeyBits { get; set; } = 1024;
    public int MaxSignatures { get; set; } = 5;
    public const string HeaderLimitReject = "reject";
    public const string HeaderLimitTempfail = "tempfail";
    /// <summary>The answer to a message that cannot be evaluated safely: inbound mail past the header cap (1,000 fields
    /// or 1 MiB), or any mail with more than 1,000 forged Authentication-Results fields. reject: 552 5.3.4; tempfail: 452 4.3.4.</summary>
    public string HeaderLimitAction { get; set; } = HeaderLimitReject;
}

public sealed class SpfSection
{
    /// <summary>Check SPF (RFC 7208) for inbound mail.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Also add a Received-SPF header (RFC 7208 9.1).</summary>
    public bool AddReceivedSpfHeader { get; set; }
    /// <summary>Reject a fail result at RCPT with 550 5.7.23 and the explanation (default: record only).</summary>
    public bool RejectOnFail { get; set; }
    /// <summary>Answer 451 4.7.24 on temperror (default: record only; never without this).</summary>
    public bool TempfailOnTempError { get; set; }
    /// <summary>Time budget for one check_host(), in milliseconds.</summary>
    public int TimeoutMs { get; set; } = 20_000;
}

public sealed class DmarcSection
{
    /// <summary>Evaluate DMARC for inbound mail.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>rfc9989 (DNS tree walk, default) or rfc7489 (organizational domain from the Public Suffix List).</summary>
    public string Mode { get; set; } = "rfc9989";
    /// <summary>RFC 7489 mode: a public_suffix_list.dat replacing the copy shipped with Milter.</summary>
    public string? PublicSuffixListPath { get; set; }
    /// <summary>Reject (550 5.7.1) a failing message whose disposition is reject. Off by default: record only.</summary>
    public bool RejectOnFailure { get; set; }
    /// <summary>Quarantine (Postfix hold queue) a failing message whose disposition is quarantine.</summary>
    public bool QuarantineOnFailure { get; set; }
    /// <summary>Reject a message without exactly one From address (no DMARC evaluation is possible).</summary>
    public bool RejectInvalidFrom { get; set; }
    /// <summary>ARC sealers (domains) whose passing chain overrides a DMARC failure's disposition (RFC 8617 7.2.1).</summary>
    public string[]? TrustedArcSealers { get; set; } = [];
}

public sealed class ReportLogSection
{
    public string? Path { get; set; }
}

public sealed class ReportsSection
{
    /// <summary>Where the DMARC evaluations for aggregate reports are stored (dmarc-reports.sqlite); empty turns the store off.
    /// Unset: /var/lib/milter, or for a user who cannot write there, $XDG_STATE_HOME/milter (~/.local/state/milter), see
    /// <see cref="Reporting.Aggregate.ReportDataDirectory"/>.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>When the data directory cannot be written: false (the default) stops start-up with one line; true runs
    /// without the DMARC report store, with one warning line.</summary>
    public bool Optional { get; set; }

    /// <summary>sqlite (the file in <see cref="DataDirectory"/>, one host) or postgresql (<see cref="ConnectionString"/>,
    /// a store shared by a fleet of relays).</summary>
    public string Store { get; set; } = Reporting.Aggregate.ReportStoreLocation.SqliteName;

    /// <summary>The Npgsql connection string of the postgresql store (Host=...;Database=...;Username=...;Password=...).
    /// Secret: never logged.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Evaluations older than this many days are deleted (in small batches); 0 keeps them all.</summary>
    public int RetentionDays { get; set; }

    /// <summary>Evaluations held in memory while the store is slow or down; past it they are dropped (counted, logged).</summary>
    public int QueueCapacity { get; set; } = 10_000;
}

public sealed class MetricsSection
{
    /// <summary>Where the Prometheus endpoint listens, e.g. http://127.0.0.1:9464/metrics; empty (the default): no endpoint
    /// (the instruments are there for dotnet-counters all the same).</summary>
    public string? Listen { get; set; }
}

public sealed class ServerSection
{
    public int MaxFrameBytes { get; set; } = 1024 * 1024;
    public int IdleTimeoutSeconds { get; set; } = 300;
    /// <summary>A frame must arrive whole within this many seconds of its first byte (the first, OPTNEG, of the connection).</summary>
    public int FrameTimeoutSeconds { get; set; } = 10;
    /// <summary>Bytes all connections together may hold in incomplete frames above 64 KiB.</summary>
    public int MaxBufferedBytes { get; set; } = 64 * 1024 * 1024;
    public int HandlerTimeoutSeconds { get; set; } = 60;
    public int ProgressIntervalSeconds { get; set; } = 5;
    public int MaxConnections { get; set; } = 1000;
    public string UnixSocketMode { get; set; } = "0660";
    public int DrainTimeoutSeconds { get; set; } = 30;
}

/// <summary>ARC (RFC 8617): the chain is always verified; sealing is off until <see cref="ArcSealSection.Domain"/> is set.</summary>
public sealed class ArcSection
{
    public ArcSealSection Seal { get; set; } = new();
}

/// <summary>Arc:Seal: the key that seals inbound mail the filter accepted (a list or forwarder passing it on).</summary>
public sealed class ArcSealSection
{
    public string? Domain { get; set; }
    public string? Selector { get; set; }
    public string? KeyFile { get; set; }

    /// <summary>Sealing is on when any of the three is set (the validator then wants all three).</summary>
    public bool IsEnabled() => !string.IsNullOrWhiteSpace(Domain) || !string.IsNullOrWhiteSpace(Selector) || !string.IsNullOrWhiteSpace(KeyFile);
}
