using System.Globalization;
using Milter.MailAuth.Dns;

namespace Milter.Configuration.OpenDkim;

/// <summary>
/// An unchanged opendkim.conf (with its KeyTable, SigningTable and host lists) as <see cref="MilterOptions"/>: the one
/// translation `milter run --opendkim-config`, SIGHUP reloads, `milter migrate` and `milter check-config` share.
/// OpenDKIM's defaults replace Milter's where they differ (simple/simple canonicalization, no oversigning,
/// three signatures verified). Each option has one of three fates, listed in docs/opendkim-options.md:
/// translated, accepted because Milter already behaves that way, or named in a warning (no equivalent).
/// </summary>
public static class OpenDkimTranslator
{
    /// <summary>Reads and translates; throws <see cref="ConfigException"/> (one line naming file and line) on any error.
    /// <paramref name="listen"/> and <paramref name="dnsServers"/> are command-line overrides, as for a JSON config.</summary>
    public static OpenDkimTranslation Load(string configFile, IReadOnlyList<string>? listen = null, string? dnsServers = null)
    {
        var full = Path.GetFullPath(configFile);
        if (!File.Exists(full)) throw new ConfigException($"opendkim: file {full} does not exist");
        var t = new OpenDkimTranslation(full);
        var settings = new Dictionary<string, OpenDkimSetting>(StringComparer.OrdinalIgnoreCase);
        foreach (var s in OpenDkimConfFile.Read(full)) settings[s.Name] = s; // the last line of a name wins
        Translate(settings, t);
        var o = t.Options;
        if (listen is { Count: > 0 }) o.Listen = listen.ToArray();
        if (!string.IsNullOrWhiteSpace(dnsServers))
            o.Dns.Servers = dnsServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        ConfigLoader.ApplyDefaults(o);
        if (new MilterOptionsValidator(_ => full).FirstProblem(o) is { } problem)
            throw new ConfigException($"opendkim: {full}: the translated configuration is not valid: {problem.Message}");
        return t;
    }

    private static void Translate(Dictionary<string, OpenDkimSetting> s, OpenDkimTranslation t)
    {
        var o = t.Options;
        // OpenDKIM's defaults where Milter's differ (opendkim.conf(5)).
        o.Signing.Canonicalization = "simple/simple";
        o.Signing.OversignHeaders = [];
        // InternalHosts: OpenDKIM 2.11 signs for 127.0.0.1 and ::1 when unset (measured against Debian's opendkim; the man
        // page names only 127.0.0.1): milter's own default.
        o.Verification.MaxSignatures = 3;
        // On-Security defaults to tempfail in OpenDKIM.
        o.Verification.HeaderLimitAction = VerificationSection.HeaderLimitTempfail;

        string? baseDirectory = null;
        var handled = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        bool Take(string name, out OpenDkimSetting setting)
        {
            handled.Add(name);
            return s.TryGetValue(name, out setting!);
        }

        if (Take("BaseDirectory", out var bd))
        {
            baseDirectory = Path.GetFullPath(bd.Value);
            t.Note(bd, $"relative file names are taken from {baseDirectory}");
        }
        if (Take("Socket", out var socket))
        {
            var spec = Socket(socket);
            o.Listen = [spec];
            t.Note(socket, $"Listen [\"{spec}\"]");
        }
        var mode = "sv";
        if (Take("Mode", out var m))
        {
            mode = m.Value.Trim().ToLowerInvariant();
            if (mode.Length == 0 || mode.Any(c => c is not ('s' or 'v')))
                throw OpenDkimError.At(m.Source, $"Mode \"{m.Value}\": use s (sign), v (verify) or sv");
            if (!mode.Contains('v', StringComparison.Ordinal))
                t.Warn(m, "milter always verifies mail from outside its InternalHosts (adding Authentication-Results); with Mode s it still does");
            else
                t.Note(m, mode.Contains('s', StringComparison.Ordinal) ? "sign and verify, as milter always does" : "verify only: no signing rules");
        }
        var requireSafeKeys = !Take("RequireSafeKeys", out var rsk) || Bool(rsk);
        if (rsk is not null)
        {
            o.Signing.AllowGroupReadableKeys = !requireSafeKeys;
            t.Note(rsk, requireSafeKeys ? "key files must not be readable by group or others" : "Signing:AllowGroupReadableKeys true (world-writable key files are still refused)");
        }
        var multiple = Take("MultipleSignatures", out var ms) && Bool(ms);
        if (ms is not null) t.Note(ms, multiple ? "every matching SigningTable line signs (Continue on each rule)" : "the first matching line signs");
        var subDomains = Take("SubDomains", out var sd) && Bool(sd);
        if (sd is not null) t.Note(sd, subDomains ? "subdomains of each Domain are signed with d= that domain" : "only the listed domains are signed");
        foreach (var name in new[] { "KeyTable", "SigningTable", "Domain", "Selector", "KeyFile" }) handled.Add(name);
        o.Signing.Rules = mode.Contains('s', StringComparison.Ordinal)
            ? OpenDkimSigning.Rules(s, t, baseDirectory, requireSafeKeys, multiple, subDomains).ToArray()
            : [];
        o.Signing.Keys = [];

        if (Take("InternalHosts", out var ih))
        {
            o.Signing.InternalHosts = HostList(ih, baseDirectory);
            t.Note(ih, $"Signing:InternalHosts, {o.Signing.InternalHosts.Length} entries");
        }
        if (Take("ExternalIgnoreList", out var eil))
            t.Note(eil, $"{HostList(eil, baseDirectory).Length} entries read; it only silences OpenDKIM's \"external host tried to send mail as\" log line, which milter never writes");
        if (Take("Canonicalization", out var c))
        {
            var value = c.Value.Trim().ToLowerInvariant();
            // OpenDKIM applies a single name to both header and body.
            if (!value.Contains('/', StringComparison.Ordinal)) value = value + "/" + value;
            if (value.Split('/') is not [var h, var b] || h is not ("simple" or "relaxed") || b is not ("simple" or "relaxed"))
                throw OpenDkimError.At(c.Source, $"Canonicalization \"{c.Value}\": use simple, relaxed, or HEADER/BODY of them");
            o.Signing.Canonicalization = value;
            t.Note(c, $"Signing:Canonicalization {value}");
        }
        if (Take("SignHeaders", out var sh))
        {
            o.Signing.SignHeaders = HeaderList(sh, baseDirectory, t);
            // OpenDKIM adds the fields DKIM requires (From, RFC 6376 5.4) to a list that omits them.
            if (o.Signing.SignHeaders is { } list && !list.Contains("From", StringComparer.OrdinalIgnoreCase))
                o.Signing.SignHeaders = ["From", .. list];
            t.Note(sh, $"Signing:SignHeaders {string.Join(",", o.Signing.SignHeaders ?? [])}");
        }
        if (Take("OversignHeaders", out var oh))
        {
            o.Signing.OversignHeaders = HeaderList(oh, baseDirectory, t) ?? [];
            t.Note(oh, $"Signing:OversignHeaders {string.Join(",", o.Signing.OversignHeaders)}");
        }
        if (Take("AuthservID", out var aid))
        {
            o.AuthservId = aid.Value.Equals("HOSTNAME", StringComparison.Ordinal) ? null : aid.Value.Trim();
            t.Note(aid, o.AuthservId is null ? "AuthservId: the host name" : $"AuthservId {o.AuthservId}");
        }
        if (Take("AlwaysAddARHeader", out var aar))
            t.Note(aar, "milter adds Authentication-Results to every message it evaluates");
        if (Take("MinimumKeyBits", out var mkb))
        {
            var bits = Int(mkb);
            o.Verification.MinimumKeyBits = Math.Clamp(bits, 512, 8192);
            if (bits != o.Verification.MinimumKeyBits)
                t.Warn(mkb, $"milter accepts 512 to 8192; {bits} becomes {o.Verification.MinimumKeyBits}");
            else
                t.Note(mkb, $"Verification:MinimumKeyBits {bits}");
        }
        if (Take("MaximumSignaturesToVerify", out var msv))
        {
            var n = Int(msv);
            o.Verification.MaxSignatures = Math.Clamp(n, 1, 50);
            if (n != o.Verification.MaxSignatures) t.Warn(msv, $"milter verifies 1 to 50; {n} becomes {o.Verification.MaxSignatures}");
            else t.Note(msv, $"Verification:MaxSignatures {n}");
        }
        if (Take("Nameservers", out var ns))
        {
            o.Dns.Servers = ns.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(x => Nameserver(ns, x)).ToArray();
            t.Note(ns, $"Dns:Servers {string.Join(",", o.Dns.Servers)}");
        }
        if (Take("UMask", out var um))
        {
            if (!ConfigLoader.TryParseMode(um.Value.Trim(), out var mask))
                throw OpenDkimError.At(um.Source, $"UMask \"{um.Value}\" is not an octal mask such as 007");
            var modeValue = 0x1B6 & ~(int)mask; // sockets are created rw for those the mask lets through (0666 & ~umask)
            o.Server.UnixSocketMode = "0" + Convert.ToString(modeValue, 8).PadLeft(3, '0');
            t.Note(um, $"Server:UnixSocketMode {o.Server.UnixSocketMode}");
        }
        if (Take("SignatureAlgorithm", out var sa))
        {
            if (sa.Value.Trim().Equals("rsa-sha256", StringComparison.OrdinalIgnoreCase))
                t.Note(sa, "rsa-sha256 (milter signs with each key's own algorithm: rsa-sha256 for RSA keys, ed25519-sha256 for Ed25519 keys)");
            else
                t.Warn(sa, $"milter signs with each key's own algorithm (rsa-sha256 or ed25519-sha256), not \"{sa.Value}\" for all");
        }
        if (Take("Background", out var bg) && Bool(bg))
            t.Warn(bg, "milter stays in the foreground (run it under systemd, Type=notify)");
        else if (bg is not null) t.Note(bg, "milter runs in the foreground");
        OnActions(s, t, handled);

        foreach (var setting in s.Values.Where(v => !handled.Contains(v.Name)).OrderBy(v => v.Source.Line))
            t.Warn(setting, Unsupported.GetValueOrDefault(setting.Name, "milter has no equivalent; the setting is ignored"));
    }

    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.OrdinalIgnoreCase)
    {
        ["PidFile"] = "milter writes no PID file (systemd tracks the process)",
        ["Syslog"] = "milter logs to standard error (the journal under systemd), not syslog(3)",
        ["SyslogSuccess"] = "milter logs each signed or verified message at Information level",
        ["SyslogFacility"] = "milter logs to standard error, not syslog(3)",
        ["SyslogName"] = "milter logs to standard error, not syslog(3)",
        ["LogWhy"] = "set LogLevel Debug for milter's reasons",
        ["LogResults"] = "milter logs each result at Information level (and Verification log with ReportLog:Path)",
        ["UserID"] = "milter does not change user: start it as that user (systemd User=/Group=)",
        ["TrustAnchorFile"] = "milter does not validate DNSSEC",
        ["PeerList"] = "every client is evaluated; exempt peers in Postfix (smtpd_milter_maps) instead",
        ["ChangeRootDirectory"] = "milter does not chroot (use systemd sandboxing)",
        ["SoftwareHeader"] = "milter adds no DKIM-Filter header",
        ["SignatureTTL"] = "use Signing:SignatureLifetimeSeconds in a milter config",
        ["ClockDrift"] = "milter's verifier allows its own fixed clock drift",
        ["DNSTimeout"] = "use Dns:TimeoutMs in a milter config",
    };

    /// <summary>On-*: milter's fixed behaviour per case; a configured action that differs is a warning.</summary>
    private static void OnActions(Dictionary<string, OpenDkimSetting> s, OpenDkimTranslation t, HashSet<string> handled)
    {
        var milter = new Dictionary<string, char>
        {
            ["On-BadSignature"] = 'a', ["On-KeyNotFound"] = 'a', ["On-NoSignature"] = 'a', ["On-DNSError"] = 'a',
            ["On-InternalError"] = 't', ["On-SignatureError"] = 't', ["On-Security"] = 't',
        };
        handled.Add("On-Default");
        s.TryGetValue("On-Default", out var fallback);
        var defaultAction = fallback is null ? (char?)null : Action(fallback);
        foreach (var (name, behaviour) in milter)
        {
            handled.Add(name);
            var setting = s.GetValueOrDefault(name) ?? fallback;
            if (setting is null) continue;
            var action = s.ContainsKey(name) ? Action(setting) : defaultAction!.Value;
            if (name == "On-Security" && action is 'r' or 't')
            {
                t.Options.Verification.HeaderLimitAction = action == 'r' ? VerificationSection.HeaderLimitReject : VerificationSection.HeaderLimitTempfail;
                t.Note(setting, $"{name}: Verification:HeaderLimitAction {t.Options.Verification.HeaderLimitAction}");
            }
            else if (action == behaviour)
                t.Note(setting, $"{name}: {Word(action)}, as milter does");
            else
                t.Warnings.Add($"opendkim: {setting.Source}: {name} {Word(action)} is not supported: milter answers {Word(behaviour)} there");
        }
    }

    private static char Action(OpenDkimSetting s)
    {
        var v = s.Value.Trim().ToLowerInvariant();
        return v is "a" or "accept" or "d" or "discard" or "q" or "quarantine" or "r" or "reject" or "t" or "tempfail"
            ? v[0] : throw OpenDkimError.At(s.Source, $"{s.Name} \"{s.Value}\": use accept, discard, quarantine, reject or tempfail");
    }

    private static string Word(char action) => action switch
    {
        'a' => "accept", 'd' => "discard", 'q' => "quarantine", 'r' => "reject", _ => "tempfail",
    };

    /// <summary>Booleans: only the first character counts (T t Y y 1 / F f N n 0), opendkim.conf(5).</summary>
    internal static bool Bool(OpenDkimSetting s) => s.Value.Trim()[0] switch
    {
        'T' or 't' or 'Y' or 'y' or '1' => true,
        'F' or 'f' or 'N' or 'n' or '0' => false,
        _ => throw OpenDkimError.At(s.Source, $"{s.Name} \"{s.Value}\" is not a boolean (yes/no, true/false, 1/0)"),
    };

    private static int Int(OpenDkimSetting s)
        => int.TryParse(s.Value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v : throw OpenDkimError.At(s.Source, $"{s.Name} \"{s.Value}\" is not a whole number");

    /// <summary>Socket: local:/path (or a bare path), inet:PORT[@HOST], inet6:PORT[@HOST]; milter's ListenSpec reads the same forms.</summary>
    private static string Socket(OpenDkimSetting s)
    {
        var spec = s.Value.Trim();
        if (spec.StartsWith('/')) spec = "unix:" + spec;
        else if (spec.StartsWith("local:", StringComparison.OrdinalIgnoreCase)) spec = "unix:" + spec[6..];
        if (!Milter.Protocol.Server.ListenSpec.TryParse(spec, out _, out var error))
            throw OpenDkimError.At(s.Source, $"Socket \"{s.Value}\": {error}");
        return spec;
    }

    /// <summary>Nameservers: addresses, optionally with @PORT (libunbound's form) or :PORT.</summary>
    private static string Nameserver(OpenDkimSetting s, string text)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var server = at < 0 ? text : (text[..at].Contains(':', StringComparison.Ordinal) ? $"[{text[..at]}]:{text[(at + 1)..]}" : $"{text[..at]}:{text[(at + 1)..]}");
        if (at < 0 && text.Count(ch => ch == ':') > 1 && !text.StartsWith('[')) server = $"[{text}]";
        return DnsResolverOptions.TryParseServer(server, out _, out _)
            ? server : throw OpenDkimError.At(s.Source, $"Nameservers entry \"{text}\" is not an IP address (with @PORT)");
    }

    /// <summary>A host list data set (InternalHosts, ExternalIgnoreList): each entry checked, errors naming its line.</summary>
    private static string[] HostList(OpenDkimSetting s, string? baseDirectory)
    {
        var list = new List<string>();
        foreach (var e in OpenDkimDataset.Read(s, baseDirectory).Entries)
        {
            if (!NetworkList.TryParseEntry(e.Key, out _, out _, out _))
                throw OpenDkimError.At(e.Source, $"{s.Name} entry \"{e.Key}\" is not an IP address, CIDR network or host name (optionally after !)");
            list.Add(e.Key);
        }
        return list.ToArray();
    }

    /// <summary>A header-name data set; OpenDKIM's "*,+name" / "*,-name" delta to its default list is a warning (milter's default is kept).</summary>
    private static string[]? HeaderList(OpenDkimSetting s, string? baseDirectory, OpenDkimTranslation t)
    {
        var names = OpenDkimDataset.Read(s, baseDirectory).Entries.Select(e => e.Key).ToList();
        if (names.Contains("*"))
        {
            t.Warn(s, "a delta to OpenDKIM's default list (\"*,+name\") is not translated; milter's default list is used");
            return null;
        }
        return names.ToArray();
    }
}
