using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Milter.MailAuth.Dns;
using Milter.Protocol.Server;

namespace Milter.Configuration;

/// <summary>
/// Builds the configuration: the embedded default (or the --config file), then MILTER_ environment
/// variables, then command-line overrides. Fills defaults and validates, throwing <see cref="ConfigException"/>
/// with one line naming the key and the value at fault.
/// </summary>
public static partial class ConfigLoader
{
    public const string EnvironmentPrefix = "MILTER_";

    public static string DefaultConfigJson()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("default-config.json")
            ?? throw new InvalidOperationException("embedded default-config.json is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static IConfigurationRoot BuildConfiguration(string? configFile, IReadOnlyDictionary<string, string?>? overrides = null,
        bool environment = true)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is null)
        {
            builder.AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(DefaultConfigJson())));
        }
        else
        {
            var full = Path.GetFullPath(configFile);
            if (!File.Exists(full))
                throw new ConfigException($"config: file {full} does not exist");
            CheckJsonSyntax(full);
            builder.AddJsonFile(full, optional: false, reloadOnChange: false);
        }
        if (environment)
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        if (overrides is not null)
            builder.AddInMemoryCollection(overrides);
        try
        {
            return builder.Build();
        }
        catch (InvalidDataException e)
        {
            throw new ConfigException($"config: {configFile}: not valid JSON: {e.InnerException?.Message ?? e.Message}");
        }
        catch (FormatException e)
        {
            throw new ConfigException($"config: {configFile}: not valid JSON: {e.Message}");
        }
    }

    /// <summary>A file that is not JSON is named with the line and column at fault (the configuration provider's own
    /// error names neither). Same leniency as the provider: comments and trailing commas are accepted.</summary>
    private static void CheckJsonSyntax(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path),
                new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ConfigException($"config: {path}: the file must hold one JSON object {{ ... }}, not a {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
        }
        catch (JsonException e)
        {
            var what = e.Message;
            var cut = what.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) what = what[..cut];
            throw new ConfigException($"config: {path}: not valid JSON at line {e.LineNumber + 1}, column {e.BytePositionInLine + 1}: {what}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"config: {path}: cannot be read: {e.Message}");
        }
    }

    /// <summary>Loads and validates. <paramref name="listen"/> and <paramref name="dnsServers"/> are command-line overrides.</summary>
    public static MilterOptions Load(string? configFile, IReadOnlyList<string>? listen = null, string? dnsServers = null, bool environment = true)
    {
        var overrides = new Dictionary<string, string?>();
        var configuration = BuildConfiguration(configFile, overrides, environment);
        var options = Bind(configuration, configFile);
        if (listen is { Count: > 0 }) options.Listen = listen.ToArray();
        if (!string.IsNullOrWhiteSpace(dnsServers))
            options.Dns.Servers = dnsServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        ApplyDefaults(options);
        Validate(options);
        return options;
    }

    public static MilterOptions Bind(IConfiguration configuration, string? configFile = null)
    {
        var options = new MilterOptions();
        ConfigKeyCheck.Check(configuration, configFile);
        try
        {
            configuration.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key in quotes: "Failed to convert configuration value at 'Server:MaxConnections' to type ..."
            var m = KeyAfterAt().Match(e.Message);
            if (m.Success && e.Message.Contains("convert", StringComparison.Ordinal))
            {
                var key = m.Groups[1].Value;
                throw new ConfigException(key, configuration[key], "not a valid value for this key");
            }
            if (e.Message.Contains("not found on type", StringComparison.Ordinal))
            {
                var unknown = QuotedKey().Matches(e.Message).Select(x => x.Groups[1].Value).FirstOrDefault();
                throw new ConfigException($"config: unknown key(s) {unknown} (check the spelling against the documented keys)");
            }
            throw new ConfigException("config: " + e.Message);
        }
        return options;
    }

    [GeneratedRegex(" at '([^']+)'")]
    private static partial Regex KeyAfterAt();

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex QuotedKey();

    public static void ApplyDefaults(MilterOptions o)
    {
        o.Listen ??= ["inet:8891@127.0.0.1"];
        if (string.IsNullOrWhiteSpace(o.AuthservId))
            o.AuthservId = DefaultAuthservId();
        o.Dns.Servers ??= [];
        o.Signing.Keys ??= [];
        o.Signing.InternalHosts ??= ["127.0.0.1", "::1"];
        o.Signing.OversignHeaders ??= ["From"];
    }

    public static string DefaultAuthservId()
    {
        try
        {
            var name = Dns.GetHostName();
            return string.IsNullOrWhiteSpace(name) ? "localhost" : name;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return "localhost";
        }
    }

    public static void Validate(MilterOptions o)
    {
        if (o.Listen is null || o.Listen.Length == 0)
            throw new ConfigException("Listen", "", "at least one socket spec is needed, e.g. inet:8891@127.0.0.1 or unix:/run/milter/milter.sock");
        for (var i = 0; i < o.Listen.Length; i++)
        {
            if (!ListenSpec.TryParse(o.Listen[i], out _, out var error))
                throw new ConfigException($"Listen:{i}", o.Listen[i], error ?? "not a socket spec");
        }
        if (!IsValidAuthservId(o.AuthservId!))
            throw new ConfigException("AuthservId", o.AuthservId, "must be a host name or token without spaces, ';' or quotes");

        for (var i = 0; i < o.Dns.Servers!.Length; i++)
        {
            // One parser for resolver addresses: the one the resolver itself uses.
            if (!DnsResolverOptions.TryParseServer(o.Dns.Servers[i], out _, out _))
                throw new ConfigException($"Dns:Servers:{i}", o.Dns.Servers[i], "expected HOST[:PORT] with HOST an IP address, e.g. 127.0.0.1:53 or [::1]:53");
        }
        Range("Dns:TimeoutMs", o.Dns.TimeoutMs, 100, 60_000);

        for (var i = 0; i < o.Signing.Keys!.Length; i++)
        {
            var k = o.Signing.Keys[i];
            if (string.IsNullOrWhiteSpace(k.Domain)) throw new ConfigException($"Signing:Keys:{i}:Domain", k.Domain, "a signing domain is required");
            if (string.IsNullOrWhiteSpace(k.Selector)) throw new ConfigException($"Signing:Keys:{i}:Selector", k.Selector, "a selector is required");
            if (string.IsNullOrWhiteSpace(k.KeyFile)) throw new ConfigException($"Signing:Keys:{i}:KeyFile", k.KeyFile, "a private key file is required");
            if (k.Algorithm is not (null or "" or "rsa-sha256" or "ed25519-sha256"))
                throw new ConfigException($"Signing:Keys:{i}:Algorithm", k.Algorithm, "use rsa-sha256 or ed25519-sha256");
        }
        for (var i = 0; i < o.Signing.InternalHosts!.Length; i++)
        {
            if (!NetworkList.TryParseNetwork(o.Signing.InternalHosts[i], out _))
                throw new ConfigException($"Signing:InternalHosts:{i}", o.Signing.InternalHosts[i], "expected an IP address or CIDR network, e.g. 10.0.0.0/8 or 2001:db8::/32");
        }
        if (!IsValidCanonicalization(o.Signing.Canonicalization))
            throw new ConfigException("Signing:Canonicalization", o.Signing.Canonicalization, "use relaxed/relaxed, relaxed/simple, simple/relaxed or simple/simple");
        Range("Signing:SignatureLifetimeSeconds", o.Signing.SignatureLifetimeSeconds, 0, 365 * 86400);

        Range("Spf:TimeoutMs", o.Spf.TimeoutMs, 100, 120_000);
        if (o.Dmarc.Mode is not ("rfc9989" or "rfc7489"))
            throw new ConfigException("Dmarc:Mode", o.Dmarc.Mode, "use rfc9989 (DNS tree walk) or rfc7489 (Public Suffix List)");
        if (!string.IsNullOrEmpty(o.Dmarc.PublicSuffixListPath) && !File.Exists(o.Dmarc.PublicSuffixListPath))
            throw new ConfigException("Dmarc:PublicSuffixListPath", o.Dmarc.PublicSuffixListPath, "file does not exist");
        Range("Verification:MinimumKeyBits", o.Verification.MinimumKeyBits, 512, 8192);
        Range("Verification:MaxSignatures", o.Verification.MaxSignatures, 1, 50);
        if (o.Verification.HeaderLimitAction is not (VerificationSection.HeaderLimitReject or VerificationSection.HeaderLimitTempfail))
            throw new ConfigException("Verification:HeaderLimitAction", o.Verification.HeaderLimitAction, "use reject (552 5.3.4) or tempfail (452 4.3.4)");

        Range("Server:MaxFrameBytes", o.Server.MaxFrameBytes, 65_536 + 16, 64 * 1024 * 1024);
        Range("Server:IdleTimeoutSeconds", o.Server.IdleTimeoutSeconds, 1, 86_400);
        Range("Server:FrameTimeoutSeconds", o.Server.FrameTimeoutSeconds, 1, 3_600);
        // A frame of MaxFrameBytes must fit in the budget, or it could never be read.
        Range("Server:MaxBufferedBytes", o.Server.MaxBufferedBytes, o.Server.MaxFrameBytes, int.MaxValue);
        Range("Server:HandlerTimeoutSeconds", o.Server.HandlerTimeoutSeconds, 1, 3_600);
        Range("Server:ProgressIntervalSeconds", o.Server.ProgressIntervalSeconds, 1, 3_600);
        Range("Server:MaxConnections", o.Server.MaxConnections, 1, 100_000);
        Range("Server:DrainTimeoutSeconds", o.Server.DrainTimeoutSeconds, 0, 3_600);
        if (!Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(o.LogLevel, ignoreCase: true, out _))
            throw new ConfigException("LogLevel", o.LogLevel, "use Trace, Debug, Information, Warning or Error");
        if (!TryParseMode(o.Server.UnixSocketMode, out _))
            throw new ConfigException("Server:UnixSocketMode", o.Server.UnixSocketMode, "expected an octal file mode such as 0660");
    }

    private static void Range(string key, int value, int min, int max)
    {
        if (value < min || value > max)
            throw new ConfigException(key, value.ToString(CultureInfo.InvariantCulture), $"must be between {min} and {max}");
    }

    public static bool IsValidCanonicalization(string? c)
    {
        if (string.IsNullOrEmpty(c)) return false;
        var parts = c.Split('/');
        return parts.Length is 1 or 2 && parts.All(p => p is "simple" or "relaxed");
    }

    public static bool IsValidAuthservId(string id)
        => id.Length is > 0 and <= 255 && id.All(ch => ch > ' ' && ch < 127 && ch is not (';' or '"' or '(' or ')' or '\\' or ','));

    public static bool TryParseMode(string? text, out UnixFileMode mode)
    {
        mode = 0;
        if (string.IsNullOrEmpty(text) || text.Length > 4) return false;
        var value = 0;
        foreach (var ch in text)
        {
            if (ch is < '0' or > '7') return false;
            value = value * 8 + (ch - '0');
        }
        mode = (UnixFileMode)value;
        return true;
    }
}
