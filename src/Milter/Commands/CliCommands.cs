namespace Milter.Commands;

/// <summary>One option of a command: "--NAME VALUE", or a flag when <paramref name="Value"/> is null.
/// <paramref name="Repeats"/>: may be given several times, each adding a value (--listen).</summary>
internal sealed record CliOption(string Name, string? Value, string Description, bool Repeats = false)
{
    public bool IsFlag => Value is null;
}

/// <summary>A command of `milter`: its name, one line for help, its options and what runs it. A name of two words
/// ("keys rotate") is a subcommand of a group command ("keys") that only holds such subcommands.</summary>
internal sealed record CliCommandSpec(string Name, string Description, IReadOnlyList<CliOption> Options,
    Func<CommandLine, Task<int>> Execute);

/// <summary>The command-line surface of `milter` (PRODUCT.md): every command and option, with its help text.
/// The commands read their options from the <see cref="CommandLine"/> they are given; an option a command
/// reads must be declared here.</summary>
internal static class CliCommands
{
    /// <summary>Global: accepted by every command, before or after the command name.</summary>
    public static readonly CliOption Dns = new("dns", "HOST[:PORT][,HOST[:PORT]...]",
        "DNS resolvers to use instead of the system's (config Dns:Servers); every command accepts it");

    private static readonly CliOption Config = new("config", "FILE",
        "JSON config file (default: the embedded config); MILTER_ environment variables apply on top");
    private static readonly CliOption OpenDkimConfig = new("opendkim-config", "FILE",
        "an OpenDKIM opendkim.conf, read unchanged with its KeyTable, SigningTable and host lists (instead of --config)");
    private static readonly CliOption Json = new("json", null, "print one JSON object (camelCase fields)");
    private static readonly CliOption Domain = new("domain", "D", "the signing domain (d=)");
    private static readonly CliOption Selector = new("selector", "S", "the selector (s=); the key record is at S._domainkey.D");
    private static readonly CliOption Key = new("key", "FILE", "the private key file (PEM, as keygen writes it)");
    private static readonly CliOption AuthservId = new("authserv-id", "ID",
        "the authserv-id of the Authentication-Results header (default: config AuthservId)");
    private static readonly CliOption Helo = new("helo", "NAME", "the HELO/EHLO name the client gave");
    private static readonly CliOption MailFrom = new("mail-from", "ADDR", "the MAIL FROM address (empty for the null reverse-path)");

    private static CliOption TimeoutMs(int defaultMs, string what) =>
        new("timeout-ms", "N", $"give up {what} after N milliseconds (default {defaultMs})");

    public static readonly IReadOnlyList<CliCommandSpec> All =
    [
        new("run", "run the daemon (default: listen on inet:8891@127.0.0.1, verify everything, sign nothing until a key is configured)",
            [Config, OpenDkimConfig, new("listen", "SPEC", "listen on SPEC instead of config Listen; repeat for several", Repeats: true)],
            RunCommand.ExecuteAsync),
        new("migrate", "print the milter JSON config equivalent to an OpenDKIM config (what has no equivalent: on stderr)",
            [OpenDkimConfig], cl => Task.FromResult(MigrateCommand.Execute(cl))),
        new("check-config", "load the config, its tables and key files, and check every key's DNS record",
            [Config, OpenDkimConfig, new("from", "ADDRESS", "print which key(s) would sign mail From this address"), TimeoutMs(15_000, "each DNS lookup")],
            CheckConfigCommand.ExecuteAsync),
        new("health", "exit 0 when a milter answers option negotiation",
            [new("connect", "SPEC", "the milter to ask (default: the first Listen of --config)"), Config, TimeoutMs(5000, "waiting for the answer")],
            HealthCommand.ExecuteAsync),
        new("keygen", "write DIR/S.private (PEM, mode 0600) and DIR/S.txt (the TXT record to publish)",
            [Domain, Selector,
             new("algorithm", "A", "rsa-sha256 (default) or ed25519-sha256"),
             new("bits", "N", "RSA key size, 1024 to 4096 (default 2048)"),
             new("directory", "DIR", "where to write the files (default: the current directory)"),
             new("force", null, "replace existing files")],
            cl => Task.FromResult(KeygenCommand.Execute(cl))),
        new("testkey", "check that the key record in DNS at S._domainkey.D matches the private key FILE",
            [Domain, Selector, Key, Config, TimeoutMs(15_000, "the DNS lookup")],
            TestkeyCommand.ExecuteAsync),
        new("sign", "sign the message on standard input, write it signed to standard output",
            [Domain, Selector, Key,
             new("algorithm", "A", "rsa-sha256 or ed25519-sha256 (default: the key's type)"),
             new("canonicalization", "H/B", "header/body canonicalization, simple or relaxed (default relaxed/relaxed)"),
             new("headers", "H1:H2:...", "the header fields to sign (must include From)")],
            SignCommand.ExecuteAsync),
        new("verify", "verify the DKIM signatures of the message on standard input",
            [Json, AuthservId, Config, TimeoutMs(30_000, "verification")],
            VerifyCommand.ExecuteAsync),
        new("spf", "SPF check_host() for MAIL FROM (and HELO), with its explanation",
            [new("ip", "IP", "the client IP address"), Helo, MailFrom, Json, Config],
            SpfCommand.ExecuteAsync),
        new("check", "SPF, DKIM and DMARC of the message on standard input, as the daemon does them",
            [new("client-ip", "IP", "the client IP address"), Helo, MailFrom, AuthservId, Json, Config],
            CheckCommand.ExecuteAsync),
        new("dmarc", "the DMARC record that applies to a domain and where it was found",
            [new("domain", "D", "the From domain"), Json,
             new("mode", "M", "rfc9989 (tree walk, default) or rfc7489 (organizational domain)"), Config],
            DmarcCommand.ExecuteAsync),
        new("report", "DMARC aggregate reports (RFC 9990) from the stored evaluations",
            [new("from", "DATE", "start of the period: yyyy-MM-dd (UTC day) or an ISO 8601 time"),
             new("to", "DATE", "end of the period (a day counts whole; a time is exclusive)"),
             new("out", "DIR", "where to write the .xml.gz reports"),
             new("org-name", "N", "the reporting organization's name (default: the --org-email domain)"),
             new("org-email", "E", "the reporting organization's address (default: postmaster@ this host)"),
             new("data-dir", "DIR", "where the report store is (default: Reports:DataDirectory, else /var/lib/milter or ~/.local/state/milter, whichever holds one)"),
             new("send", "smtp://HOST:PORT", "also mail each report to its rua= addresses through this relay"),
             Config],
            ReportCommand.ExecuteAsync),
        new("keys rotate", "a new key under a new date-based selector for a configured domain key: writes it and its TXT record, records the rotation as pending",
            [new("domain", "D", "the signing domain whose configured key is rotated"),
             new("algorithm", "A", "rsa or ed25519: which key of the domain (needed when it has both)"),
             Config],
            cl => Task.FromResult(KeysRotateCommand.Execute(cl))),
        new("keys status", "per signing domain: the active key, the pending one and whether DNS serves it, the retiring ones and when their record can go",
            [Config, Json, TimeoutMs(15_000, "each DNS lookup")],
            KeysStatusCommand.ExecuteAsync),
        new("bench", "a milter load client (Postfix's side): messages/s, latency percentiles, errors",
            [new("connect", "SPEC", "the milter to load"),
             new("messages", "N", "messages to send (default 1000)"),
             new("concurrency", "C", "connections sending at once (default 1)"),
             new("size", "BYTES", "size of each generated message (default 2048)"),
             new("mode", "sign|verify", "sign: from an internal client; verify: pre-signed mail from outside (default sign)"),
             Json,
             new("domain", "D", "the From domain of the generated messages (with --key: the signing domain)"),
             new("key", "FILE", "verify mode: the private key that pre-signs the messages"),
             new("selector", "S", "verify mode: the selector of --key"),
             new("arc-hops", "N", "verify mode: seal each pre-signed message N times (ARC, 1 to 50) with --key as d=--domain s=--selector (default 0)"),
             new("client-ip", "IP", "the client address the MTA reports (default 127.0.0.1 sign, 192.0.2.1 verify)"),
             new("helo", "NAME", "the HELO name bench sends (default client.bench.example)"),
             new("eml-dir", "DIR", "send the .eml files of DIR instead of generated messages"),
             new("warmup", "N", "messages sent first and not counted (default 0)"),
             new("per-connection", "N", "messages per connection before a new one (default 0: no limit)"),
             new("progress", "SECONDS", "progress on stderr: a live line on a terminal, else a line every SECONDS (default 5; 0: none)"),
             TimeoutMs(30_000, "a message")],
            BenchCommand.ExecuteAsync),
    ];

    /// <summary>The descriptions of the group commands (the first word of two-word command names).</summary>
    public static readonly IReadOnlyDictionary<string, string> Groups = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["keys"] = "DKIM key rotation: keys rotate (a new key to publish), keys status (what the daemon signs with, what DNS serves)",
    };

    /// <summary>Printed after the generated help of `milter --help`.</summary>
    public const string HelpFooter = """
        Socket specs: inet:PORT@HOST, inet:PORT, inet6:PORT@HOST, unix:/path (local:/path)
        Exit codes: 0 ok, 1 check failed, 2 bad usage or config, 3 temporary error (DNS)
        Help for one command: milter COMMAND --help

        """;
}
