namespace Milter.TestKit.Postfix;

/// <summary>
/// How <see cref="PostfixInstance"/> configures its private Postfix. The defaults give a relay that takes mail
/// from 127.0.0.0/8 on a free port and hands everything to its <see cref="SmtpSink"/>.
/// Templates and extra text may use these placeholders: {CONFIG_DIR} {QUEUE_DIR} {DATA_DIR} {BASE_DIR}
/// {SMTPD_PORT} {SINK_PORT} {NAME} {MAILLOG}.
/// </summary>
public sealed class PostfixOptions
{
    /// <summary>smtpd_milters, e.g. "{ inet:127.0.0.1:PORT, default_action=tempfail, command_timeout=10s, connect_timeout=5s }".</summary>
    public string? SmtpdMilters { get; set; }

    /// <summary>non_smtpd_milters (mail submitted with sendmail).</summary>
    public string? NonSmtpdMilters { get; set; }

    /// <summary>milter_default_action: accept, reject, tempfail or quarantine.</summary>
    public string MilterDefaultAction { get; set; } = "tempfail";

    /// <summary>main.cf parameters set after the defaults (same name: replaces the default).</summary>
    public IDictionary<string, string> MainCf { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Raw main.cf text appended at the end (e.g. a file from postfix-config/); later lines win.</summary>
    public string? ExtraMainCf { get; set; }

    /// <summary>Raw master.cf lines appended at the end (more services, -o overrides).</summary>
    public string? ExtraMasterCf { get; set; }

    /// <summary>A whole main.cf instead of the built-in one (placeholders are replaced; MainCf and
    /// ExtraMainCf still apply on top). It must set queue_directory and data_directory from the placeholders.</summary>
    public string? MainCfTemplate { get; set; }

    /// <summary>A whole master.cf instead of the built-in one (placeholders are replaced).</summary>
    public string? MasterCfTemplate { get; set; }

    /// <summary>Start an <see cref="SmtpSink"/> and relay to it (default). When false, relayhost points to
    /// <see cref="RelayPort"/> (e.g. another instance), or mail stays deferred when that is null.</summary>
    public bool StartSink { get; set; } = true;

    /// <summary>The sink only counts messages (benchmarks).</summary>
    public bool SinkCountOnly { get; set; }

    /// <summary>Where to relay when <see cref="StartSink"/> is false.</summary>
    public int? RelayPort { get; set; }

    /// <summary>Bound for start, stop and each postfix command.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
