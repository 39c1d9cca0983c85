namespace Milter.Configuration.OpenDkim;

/// <summary>Every option of opendkim.conf(5) (OpenDKIM 2.11), as the man page spells it.</summary>
public static class OpenDkimOptionNames
{
    public static readonly IReadOnlyList<string> All =
    [
        "AllowSHA1Only", "AlwaysAddARHeader", "AnonymousStatistics", "AuthservID", "AuthservIDWithJobID", "AutoRestart",
        "AutoRestartCount", "AutoRestartRate", "Background", "BaseDirectory", "BodyLengthDB", "BogusKey", "CaptureUnknownErrors",
        "Canonicalization", "ChangeRootDirectory", "ClockDrift", "Diagnostics", "DiagnosticDirectory", "DisableCryptoInit",
        "DNSConnect", "DNSTimeout", "Domain", "DomainKeysCompat", "DontSignMailTo", "EnableCoredumps", "ExemptDomains",
        "ExternalIgnoreList", "FinalPolicyScript", "FixCRLF", "IdentityHeader", "IdentityHeaderRemove", "IgnoreMalformedMail",
        "Include", "InternalHosts", "KeepAuthResults", "KeepTemporaryFiles", "KeyFile", "KeyTable", "LDAPAuthMechanism",
        "LDAPAuthName", "LDAPAuthRealm", "LDAPAuthUser", "LDAPBindPassword", "LDAPBindUser", "LDAPDisableCache",
        "LDAPKeepaliveIdle", "LDAPKeepaliveInterval", "LDAPKeepaliveProbes", "LDAPTimeout", "LDAPUseTLS", "LogResults", "LogWhy",
        "MacroList", "MaximumHeaders", "MaximumSignaturesToVerify", "MaximumSignedBytes", "MilterDebug", "Minimum",
        "MinimumKeyBits", "Mode", "MTA", "MTACommand", "MultipleSignatures", "MustBeSigned", "Nameservers", "NoHeaderB",
        "OmitHeaders", "On-BadSignature", "On-Default", "On-DNSError", "On-InternalError", "On-KeyNotFound", "On-NoSignature",
        "On-Security", "On-SignatureError", "OversignHeaders", "PeerList", "PidFile", "POPDBFile", "Quarantine", "QueryCache",
        "RedirectFailuresTo", "RemoveARAll", "RemoveARFrom", "RemoveOldSignatures", "ReplaceHeaders", "ReplaceRules",
        "ReportAddress", "ReportBccAddress", "RequestReports", "RequiredHeaders", "RequireSafeKeys", "ResignAll", "ResignMailTo",
        "ResolverConfiguration", "ResolverTracing", "ScreenPolicyScript", "SelectCanonicalizationHeader", "Selector",
        "SenderHeaders", "SenderMacro", "SendReports", "SetupPolicyScript", "SignatureAlgorithm", "SignatureTTL", "SignHeaders",
        "SigningTable", "SMTPURI", "Socket", "SoftStart", "SoftwareHeader", "Statistics", "StatisticsName",
        "StatisticsPolicyScript", "StatisticsPrefix", "StrictHeaders", "StrictTestMode", "SubDomains", "Syslog", "SyslogFacility",
        "SyslogName", "SyslogSuccess", "TemporaryDirectory", "TestDNSData", "TestPublicKeys", "TrustAnchorFile",
        "TrustSignaturesFrom", "UMask", "UnprotectedKey", "UserID", "VBR-Certifiers", "VBR-PurgeFields", "VBR-TrustedCertifiers",
        "VBR-TrustedCertifiersOnly", "VBR-Type", "WeakSyntaxChecks",
    ];

    private static readonly Dictionary<string, string> ByUpper = All.ToDictionary(n => n.ToUpperInvariant(), n => n);

    /// <summary>The option's spelling in the man page, or null for a name OpenDKIM does not know (case-insensitive).</summary>
    public static string? Find(string name) => ByUpper.GetValueOrDefault(name.ToUpperInvariant());
}
