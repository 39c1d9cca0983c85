using System.Text;

namespace Milter.TestKit.Postfix;

/// <summary>The built-in main.cf and master.cf for a private test Postfix, public so a test can start from them
/// when it passes a whole template (<see cref="PostfixOptions.MainCfTemplate"/>, <see cref="PostfixOptions.MasterCfTemplate"/>).</summary>
public static class PostfixConfig
{
    /// <summary>Default main.cf parameters, in order. Short timeouts keep failing tests fast.</summary>
    /// <summary>The built-in main.cf as template text (placeholders not yet filled, relayhost = {SINK_PORT}).</summary>
    public static string DefaultMainCf(PostfixOptions? options = null) =>
        string.Concat(MainDefaults(options ?? new PostfixOptions(), null)
            .Select(p => $"{p.Key} = {(p.Key == "relayhost" ? "[127.0.0.1]:{SINK_PORT}" : p.Value)}\n"));

    internal static IEnumerable<KeyValuePair<string, string>> MainDefaults(PostfixOptions options, int? relayPort)
    {
        var p = new List<KeyValuePair<string, string>>();
        void Set(string name, string value) => p.Add(new(name, value));
        Set("compatibility_level", "3.6");
        Set("queue_directory", "{QUEUE_DIR}");
        Set("data_directory", "{DATA_DIR}");
        Set("myhostname", "{NAME}.localdomain");
        Set("mydomain", "localdomain");
        Set("syslog_name", "{NAME}");
        Set("maillog_file", "{MAILLOG}");
        Set("maillog_file_prefixes", "{BASE_DIR}");
        Set("inet_interfaces", "127.0.0.1");
        Set("inet_protocols", "ipv4");
        Set("mydestination", "");
        Set("local_recipient_maps", "");
        Set("local_transport", "error:5.1.1 no local delivery in tests");
        Set("alias_maps", "");
        Set("alias_database", "");
        Set("relayhost", relayPort is null ? "" : $"[127.0.0.1]:{relayPort}");
        Set("smtp_dns_support_level", "disabled");
        Set("smtpd_peername_lookup", "no");
        Set("smtpd_tls_security_level", "none");
        Set("smtp_tls_security_level", "none");
        Set("mynetworks", "127.0.0.0/8");
        // smtpd listens on loopback only; clients that claim an outside address with XCLIENT must still
        // reach the sink, so every domain is a relay domain (delivered to relayhost like the rest).
        Set("relay_domains", "static:ALL");
        Set("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination");
        Set("smtpd_authorized_xclient_hosts", "127.0.0.0/8");
        Set("smtpd_banner", "$myhostname ESMTP");
        Set("biff", "no");
        Set("append_dot_mydomain", "no");
        Set("smtpd_error_sleep_time", "0");
        Set("smtpd_timeout", "30s");
        Set("smtp_connect_timeout", "5s");
        Set("smtp_helo_timeout", "10s");
        Set("queue_run_delay", "1s");
        Set("minimal_backoff_time", "1s");
        Set("maximal_backoff_time", "2s");
        Set("delay_warning_time", "0");
        Set("in_flow_delay", "0");
        Set("milter_protocol", "6");
        Set("milter_default_action", options.MilterDefaultAction);
        Set("milter_connect_timeout", "5s");
        Set("milter_command_timeout", "10s");
        Set("milter_content_timeout", "30s");
        Set("smtpd_milters", options.SmtpdMilters ?? "");
        Set("non_smtpd_milters", options.NonSmtpdMilters ?? "");
        return p;
    }

    /// <summary>Every service chroot-off (n), smtpd on 127.0.0.1:{SMTPD_PORT}, and postlogd for maillog_file.
    /// Kept in master.cf beside this file (embedded), which bench/postfix.sh reads too.</summary>
    public static readonly string Master = ReadMasterCf();

    private static string ReadMasterCf()
    {
        using var stream = typeof(PostfixConfig).Assembly.GetManifestResourceStream("Milter.TestKit.Postfix.master.cf")
            ?? throw new InvalidOperationException("the embedded Postfix/master.cf is missing from Milter.TestKit");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    internal static string BuildMain(PostfixOptions options, int? relayPort)
    {
        var sb = new StringBuilder();
        if (options.MainCfTemplate is null)
        {
            var merged = new List<KeyValuePair<string, string>>();
            foreach (var pair in MainDefaults(options, relayPort))
            {
                if (!options.MainCf.ContainsKey(pair.Key))
                    merged.Add(pair);
            }
            merged.AddRange(options.MainCf);
            foreach (var pair in merged)
                sb.Append(pair.Key).Append(" = ").Append(pair.Value).Append('\n');
        }
        else
        {
            sb.Append(options.MainCfTemplate).Append('\n');
            foreach (var pair in options.MainCf)
                sb.Append(pair.Key).Append(" = ").Append(pair.Value).Append('\n');
        }
        if (options.ExtraMainCf is not null)
            sb.Append(options.ExtraMainCf).Append('\n');
        return sb.ToString();
    }

    internal static string BuildMaster(PostfixOptions options) =>
        (options.MasterCfTemplate ?? Master) + "\n" + (options.ExtraMasterCf ?? "") + "\n";

    internal static string Fill(string text, IReadOnlyDictionary<string, string> values)
    {
        foreach (var pair in values)
            text = text.Replace("{" + pair.Key + "}", pair.Value, StringComparison.Ordinal);
        return text;
    }
}
