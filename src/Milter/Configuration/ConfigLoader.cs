using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Milter.MailAuth.AuthenticationResults;

namespace Milter.Configuration;

/// <summary>
/// Builds the configuration: the --config file (if any), then MILTER_ environment variables, then command-line
/// overrides, bound over the defaults of <see cref="MilterOptions"/> (their property initialisers are the one source of
/// defaults). Checked with <see cref="ConfigKeyCheck"/> (keys, shapes, types) and <see cref="MilterOptionsValidator"/>
/// (values), throwing <see cref="ConfigException"/> with one line naming the key, the value and where it came from.
/// </summary>
public static partial class ConfigLoader
{
    public const string EnvironmentPrefix = "MILTER_";

    public static IConfigurationRoot BuildConfiguration(string? configFile, IReadOnlyDictionary<string, string?>? overrides = null,
        bool environment = true)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
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
        var configuration = BuildConfiguration(configFile, overrides: null, environment);
        var options = Bind(configuration, configFile);
        var fromListen = listen is { Count: > 0 };
        var fromDns = !string.IsNullOrWhiteSpace(dnsServers);
        if (fromListen) options.Listen = listen!.ToArray();
        if (fromDns)
            options.Dns.Servers = dnsServers!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        ApplyDefaults(options);
        string? SourceOf(string key)
            => fromListen && IsUnder(key, "Listen") ? "--listen"
                : fromDns && IsUnder(key, "Dns:Servers") ? "--dns"
                : ConfigKeyCheck.Source(configuration, configFile, key);
        Validate(options, SourceOf);
        return options;
    }

    /// <summary>Where the value of <paramref name="key"/> comes from (the file, the MILTER_ variable), or null for a default.</summary>
    public static string? SourceOf(string? configFile, string key, bool environment = true)
        => ConfigKeyCheck.Source(BuildConfiguration(configFile, overrides: null, environment), configFile, key);

    private static bool IsUnder(string key, string section)
        => key.Equals(section, StringComparison.OrdinalIgnoreCase) || key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase);

    public static MilterOptions Bind(IConfiguration configuration, string? configFile = null)
    {
        var options = new MilterOptions();
        ConfigKeyCheck.Check(configuration, configFile);
        try
        {
            var cleared = new List<(object Target, PropertyInfo List)>();
            ClearSetLists(configuration, "", options, cleared);
            configuration.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
            // A cleared list the binder left null: the configuration gave [] (nothing to bind), an empty list.
            foreach (var (target, list) in cleared)
                if (list.GetValue(target) is null)
                    list.SetValue(target, Array.CreateInstanceFromArrayType(list.PropertyType, 0));
        }
        catch (InvalidOperationException e)
        {
            // ConfigKeyCheck has named unknown keys and values of the wrong type; this is the binder's last word.
            var m = KeyAfterAt().Match(e.Message);
            if (m.Success && e.Message.Contains("convert", StringComparison.Ordinal))
            {
                var key = m.Groups[1].Value;
                throw new ConfigException(key, configuration[key], "not a valid value for this key", ConfigKeyCheck.Source(configuration, configFile, key));
            }
            throw new ConfigException("config: " + e.Message);
        }
        return options;
    }

    /// <summary>
    /// A list the configuration sets replaces the default list (the initialiser of <see cref="MilterOptions"/>) instead
    /// of being appended to it, as the binder does with arrays; an empty list (<c>[]</c>) is an empty list. So each
    /// list the configuration sets is cleared (null) before binding, and noted in <paramref name="cleared"/>: the
    /// binder then fills it with the configured items only. Lists inside list items (a rule's From) are bound into
    /// fresh items. The properties come from <see cref="OptionTypes"/> (trimming-safe).
    /// </summary>
    private static void ClearSetLists(IConfiguration configuration, string prefix, object target, List<(object, PropertyInfo)> cleared)
    {
        foreach (var property in OptionTypes.Properties(target.GetType()))
        {
            var path = prefix + property.Name;
            var type = property.PropertyType;
            if (type.IsArray)
            {
                if (!IsSet(configuration, path)) continue;
                property.SetValue(target, null);
                cleared.Add((target, property));
            }
            else if (type.IsClass && type != typeof(string) && property.GetValue(target) is { } child)
            {
                ClearSetLists(configuration, path + ":", child, cleared);
            }
        }
    }

    /// <summary>Whether any source gives the key, an empty list or section included.</summary>
    private static bool IsSet(IConfiguration configuration, string path)
        => configuration.GetSection(path).Exists()
            || (configuration is IConfigurationRoot root && root.Providers.Any(p => p.TryGet(path, out _)));

    [GeneratedRegex(" at '([^']+)'")]
    private static partial Regex KeyAfterAt();

    /// <summary>The defaults that depend on the machine: the authserv-id is the host name.</summary>
    public static void ApplyDefaults(MilterOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.AuthservId))
            o.AuthservId = DefaultAuthservId();
    }

    /// <summary>The host name, when it is a valid authserv-id; otherwise "localhost".</summary>
    public static string DefaultAuthservId()
    {
        try
        {
            var name = Dns.GetHostName();
            return AuthenticationResultsWriter.IsValidAuthservId(name) ? name : "localhost";
        }
        catch (System.Net.Sockets.SocketException)
        {
            return "localhost";
        }
    }

    /// <summary>Throws the first problem <see cref="MilterOptionsValidator"/> finds.</summary>
    public static void Validate(MilterOptions o, Func<string, string?>? sourceOf = null)
    {
        if (new MilterOptionsValidator(sourceOf).FirstProblem(o) is { } problem)
            throw problem;
    }

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
