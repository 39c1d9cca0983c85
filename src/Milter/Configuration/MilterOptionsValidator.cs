using System.Globalization;
using Microsoft.Extensions.Options;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.Protocol.Server;

namespace Milter.Configuration;

/// <summary>
/// The rules a bound <see cref="MilterOptions"/> must meet (the Options validation pattern). Where an engine has a rule
/// for a value, this calls the engine's own check (authserv-id: the A-R writer's; socket specs: ListenSpec's; resolver
/// addresses: the resolver's), so a value accepted here is never refused later, message by message.
/// Each failure is one line, <c>config: KEY = "VALUE" (from SOURCE): PROBLEM</c>.
/// </summary>
public sealed class MilterOptionsValidator : IValidateOptions<MilterOptions>
{
    private readonly Func<string, string?> _sourceOf;

    /// <param name="sourceOf">Where the value of a key came from (file, MILTER_ variable, command line), or null when unknown.</param>
    public MilterOptionsValidator(Func<string, string?>? sourceOf = null) => _sourceOf = sourceOf ?? (_ => null);

    public ValidateOptionsResult Validate(string? name, MilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Problems(options).Select(p => ConfigException.Format(p.Key, p.Value, p.Text, _sourceOf(p.Key))).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The first failure as the exception start-up and reload report, or null when the options are valid.</summary>
    public ConfigException? FirstProblem(MilterOptions options)
        => Problems(options).FirstOrDefault() is { } p ? new ConfigException(p.Key, p.Value, p.Text, _sourceOf(p.Key)) : null;

    private sealed record Problem(string Key, string? Value, string Text);

    private static IEnumerable<Problem> Problems(MilterOptions o)
    {
        if (o.Listen is null || o.Listen.Length == 0)
            yield return new("Listen", "", "at least one socket spec is needed, e.g. inet:8891@127.0.0.1 or unix:/run/milter/milter.sock");
        for (var i = 0; i < (o.Listen?.Length ?? 0); i++)
        {
            if (!ListenSpec.TryParse(o.Listen![i], out _, out var error))
                yield return new($"Listen:{i}", o.Listen[i], error ?? "not a socket spec");
        }
        if (!AuthenticationResultsWriter.IsValidAuthservId(o.AuthservId))
            yield return new("AuthservId", o.AuthservId, AuthenticationResultsWriter.AuthservIdRule);

        var servers = o.Dns.Servers ?? [];
        for (var i = 0; i < servers.Length; i++)
        {
            // One parser for resolver addresses: the one the resolver itself uses.
            if (!DnsResolverOptions.TryParseServer(servers[i], out _, out _))
                yield return new($"Dns:Servers:{i}", servers[i], "expected HOST[:PORT] with HOST an IP address, e.g. 127.0.0.1:53 or [::1]:53");
        }
        if (Range("Dns:TimeoutMs", o.Dns.TimeoutMs, 100, 60_000) is { } dnsTimeout) yield return dnsTimeout;

        foreach (var p in SigningProblems(o.Signing)) yield return p;

        if (Range("Spf:TimeoutMs", o.Spf.TimeoutMs, 100, 120_000) is { } spfTimeout) yield return spfTimeout;
        if (o.Dmarc.Mode is not ("rfc9989" or "rfc7489"))
            yield return new("Dmarc:Mode", o.Dmarc.Mode, "use rfc9989 (DNS tree walk) or rfc7489 (Public Suffix List)");
        if (!string.IsNullOrEmpty(o.Dmarc.PublicSuffixListPath) && !File.Exists(o.Dmarc.PublicSuffixListPath))
            yield return new("Dmarc:PublicSuffixListPath", o.Dmarc.PublicSuffixListPath, "file does not exist");
        if (Range("Verification:MinimumKeyBits", o.Verification.MinimumKeyBits, 512, 8192) is { } bits) yield return bits;
        if (Range("Verification:MaxSignatures", o.Verification.MaxSignatures, 1, 50) is { } maxSignatures) yield return maxSignatures;
        if (o.Verification.HeaderLimitAction is not (VerificationSection.HeaderLimitReject or VerificationSection.HeaderLimitTempfail))
            yield return new("Verification:HeaderLimitAction", o.Verification.HeaderLimitAction, "use reject (552 5.3.4) or tempfail (452 4.3.4)");

        foreach (var p in ArcProblems(o)) yield return p;
        foreach (var p in Reporting.Aggregate.ReportStoreStartup.Problems(o.Reports)) yield return new(p.Key, p.Value, p.Text);
        foreach (var p in ServerProblems(o.Server)) yield return p;
        if (!string.IsNullOrWhiteSpace(o.Metrics.Listen) && !Metrics.MetricsListenAddress.TryParse(o.Metrics.Listen, out _, out var metricsError))
            yield return new("Metrics:Listen", o.Metrics.Listen, metricsError);
        if (!Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(o.LogLevel, ignoreCase: true, out _))
            yield return new("LogLevel", o.LogLevel, "use Trace, Debug, Information, Warning or Error");
    }

    /// <summary>Arc:Seal wants its domain, selector and key file together; Dmarc:TrustedArcSealers are domain names.</summary>
    private static IEnumerable<Problem> ArcProblems(MilterOptions o)
    {
        var seal = o.Arc.Seal;
        if (seal.IsEnabled())
        {
            if (!Milter.MailAuth.Dkim.DkimKeyRecordName.IsValidDomain(seal.Domain?.Trim() ?? ""))
                yield return new("Arc:Seal:Domain", seal.Domain, "the sealing domain (d=), e.g. lists.example.net; Arc:Seal needs Domain, Selector and KeyFile");
            if (!Milter.MailAuth.Dkim.DkimKeyRecordName.IsValidSelector(seal.Selector?.Trim() ?? ""))
                yield return new("Arc:Seal:Selector", seal.Selector, "the selector (s=) whose DNS record holds the public key; Arc:Seal needs Domain, Selector and KeyFile");
            if (string.IsNullOrWhiteSpace(seal.KeyFile))
                yield return new("Arc:Seal:KeyFile", seal.KeyFile, "a private key file (RSA or Ed25519) is required; Arc:Seal needs Domain, Selector and KeyFile");
        }
        var trusted = o.Dmarc.TrustedArcSealers ?? [];
        for (var i = 0; i < trusted.Length; i++)
        {
            if (!Milter.MailAuth.Dkim.DkimKeyRecordName.IsValidDomain(trusted[i]?.Trim().TrimEnd('.') ?? ""))
                yield return new($"Dmarc:TrustedArcSealers:{i}", trusted[i], "expected a domain name, the d= of a trusted ARC-Seal, e.g. lists.example.net");
        }
    }

    private static IEnumerable<Problem> SigningProblems(SigningSection s)
    {
        var keys = s.Keys ?? [];
        for (var i = 0; i < keys.Length; i++)
        {
            foreach (var p in KeyProblems($"Signing:Keys:{i}", keys[i], allowPercent: false)) yield return p;
        }
        var rules = s.Rules ?? [];
        for (var i = 0; i < rules.Length; i++)
        {
            var r = rules[i];
            var from = r.From ?? [];
            if (from.Length == 0) yield return new($"Signing:Rules:{i}:From", "", "a rule needs at least one From pattern, e.g. [\"*@example.com\"]");
            for (var j = 0; j < from.Length; j++)
            {
                if (string.IsNullOrWhiteSpace(from[j]) || from[j].Any(c => c <= ' ' || c > '~'))
                    yield return new($"Signing:Rules:{i}:From:{j}", from[j], "expected a domain or address pattern such as example.com, *.example.com or *@example.com");
                else if (r.MatchAddress && !Keys.FromPattern.CanMatchAnAddress(from[j]))
                    yield return new($"Signing:Rules:{i}:From:{j}", from[j], "matched against the whole address, this pattern matches nothing (no '@' and no '*')");
            }
            var ruleKeys = r.Keys ?? [];
            if (ruleKeys.Length == 0) yield return new($"Signing:Rules:{i}:Keys", "", "a rule needs at least one key (Domain, Selector, KeyFile)");
            for (var j = 0; j < ruleKeys.Length; j++)
            {
                foreach (var p in KeyProblems($"Signing:Rules:{i}:Keys:{j}", ruleKeys[j], allowPercent: true)) yield return p;
            }
        }
        var hosts = s.InternalHosts ?? [];
        for (var i = 0; i < hosts.Length; i++)
        {
            if (!NetworkList.TryParseEntry(hosts[i], out _, out _, out _))
                yield return new($"Signing:InternalHosts:{i}", hosts[i], "expected an IP address, CIDR network or host name, optionally negated with !, e.g. 10.0.0.0/8, 2001:db8::/32, .example.com or !10.1.2.3");
        }
        // The signer's own parser (KeyStore hands it the same text): header[/body], simple or relaxed.
        if (s.Canonicalization is null || !DkimCanonicalizationNames.TryParsePair(s.Canonicalization, out _, out _))
            yield return new("Signing:Canonicalization", s.Canonicalization, "use relaxed/relaxed, relaxed/simple, simple/relaxed or simple/simple");
        if (Range("Signing:SignatureLifetimeSeconds", s.SignatureLifetimeSeconds, 0, 365 * 86400) is { } lifetime) yield return lifetime;
        foreach (var p in RotationProblems(s.Rotation)) yield return p;
    }

    private static IEnumerable<Problem> RotationProblems(RotationSection r)
    {
        if (!(r.PublishedForMinutes is >= 0 and <= 43_200))
            yield return new("Signing:Rotation:PublishedForMinutes", Text(r.PublishedForMinutes),
                "must be between 0 and 43200 (30 days): how long every resolver must serve the new key record before the daemon signs with it");
        if (!(r.RetireAfterDays is >= 0 and <= 365))
            yield return new("Signing:Rotation:RetireAfterDays", Text(r.RetireAfterDays),
                "must be between 0 and 365: how long after the switch the old key record stays published");
        if (Range("Signing:Rotation:CheckIntervalSeconds", r.CheckIntervalSeconds, 1, 86_400) is { } interval) yield return interval;
        if (r.KeyDirectory is { Length: > 0 } dir && !Path.IsPathRooted(dir))
            yield return new("Signing:Rotation:KeyDirectory", dir, "expected an absolute directory path, e.g. /etc/milter/keys");
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static IEnumerable<Problem> KeyProblems(string name, SigningKeyOptions k, bool allowPercent)
    {
        if (string.IsNullOrWhiteSpace(k.Domain)) yield return new($"{name}:Domain", k.Domain, "a signing domain is required");
        else if (k.Domain.Trim() == "%" && !allowPercent) yield return new($"{name}:Domain", k.Domain, "\"%\" (the From domain) is for keys of Signing:Rules");
        if (string.IsNullOrWhiteSpace(k.Selector)) yield return new($"{name}:Selector", k.Selector, "a selector is required");
        if (string.IsNullOrWhiteSpace(k.KeyFile)) yield return new($"{name}:KeyFile", k.KeyFile, "a private key file is required");
        else if (k.KeyFile.Contains('%', StringComparison.Ordinal) && !allowPercent)
            yield return new($"{name}:KeyFile", k.KeyFile, "\"%\" (the From domain) is for keys of Signing:Rules");
        if (k.Algorithm is not (null or "" or "rsa-sha256" or "ed25519-sha256"))
            yield return new($"{name}:Algorithm", k.Algorithm, "use rsa-sha256 or ed25519-sha256");
    }

    private static IEnumerable<Problem> ServerProblems(ServerSection s)
    {
        Problem?[] ranges =
        [
            Range("Server:MaxFrameBytes", s.MaxFrameBytes, 65_536 + 16, 64 * 1024 * 1024),
            Range("Server:IdleTimeoutSeconds", s.IdleTimeoutSeconds, 1, 86_400),
            Range("Server:FrameTimeoutSeconds", s.FrameTimeoutSeconds, 1, 3_600),
            // A frame of MaxFrameBytes must fit in the budget, or it could never be read.
            Range("Server:MaxBufferedBytes", s.MaxBufferedBytes, s.MaxFrameBytes, int.MaxValue),
            Range("Server:HandlerTimeoutSeconds", s.HandlerTimeoutSeconds, 1, 3_600),
            Range("Server:ProgressIntervalSeconds", s.ProgressIntervalSeconds, 1, 3_600),
            Range("Server:MaxConnections", s.MaxConnections, 1, 100_000),
            Range("Server:DrainTimeoutSeconds", s.DrainTimeoutSeconds, 0, 3_600),
        ];
        foreach (var p in ranges)
        {
            if (p is { } problem) yield return problem;
        }
        if (!ConfigLoader.TryParseMode(s.UnixSocketMode, out _))
            yield return new("Server:UnixSocketMode", s.UnixSocketMode, "expected an octal file mode such as 0660");
    }

    private static Problem? Range(string key, int value, int min, int max)
        => value < min || value > max ? new(key, value.ToString(CultureInfo.InvariantCulture), $"must be between {min} and {max}") : null;
}
