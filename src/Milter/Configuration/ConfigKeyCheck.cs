using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.Memory;

namespace Milter.Configuration;

/// <summary>Checks every configured key against <see cref="MilterOptions"/> before binding, so that a misspelt key
/// or a value of the wrong shape is one line a person can act on: the key, its value, where it came from and,
/// for a near miss, the key that was probably meant.</summary>
internal static class ConfigKeyCheck
{
    private static readonly Dictionary<string, string> ListExamples = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Listen"] = "[\"inet:8891@127.0.0.1\"]",
        ["Dns:Servers"] = "[\"127.0.0.1:53\"]",
        ["Signing:InternalHosts"] = "[\"127.0.0.1\", \"10.0.0.0/8\"]",
        ["Signing:SignHeaders"] = "[\"From\", \"Subject\"]",
        ["Signing:OversignHeaders"] = "[\"From\"]",
        ["Signing:Rules"] = "[{ \"From\": [\"*@example.com\"], \"Keys\": [{ \"Domain\": \"example.com\", \"Selector\": \"s1\", \"KeyFile\": \"/etc/milter/keys/s1.private\" }] }]",
        ["Signing:Rules:From"] = "[\"*@example.com\"]",
        ["Signing:Rules:Keys"] = "[{ \"Domain\": \"example.com\", \"Selector\": \"s1\", \"KeyFile\": \"/etc/milter/keys/s1.private\" }]",
        ["Signing:Keys"] = "[{ \"Domain\": \"example.com\", \"Selector\": \"s1\", \"KeyFile\": \"/etc/milter/keys/s1.private\" }]",
    };

    /// <summary>Throws <see cref="ConfigException"/> for the first key that <see cref="MilterOptions"/> does not have,
    /// or the first list or section given a single value.</summary>
    public static void Check(IConfiguration configuration, string? configFile)
    {
        foreach (var child in configuration.GetChildren())
            CheckSection(configuration, configFile, child, typeof(MilterOptions));
    }

    private static void CheckSection(IConfiguration root, string? configFile, IConfigurationSection section, Type owner)
    {
        var property = FindProperty(owner, section.Key);
        if (property is null)
            throw Unknown(root, configFile, section, owner);
        CheckValue(root, configFile, section, property.PropertyType);
    }

    private static void CheckValue(IConfiguration root, string? configFile, IConfigurationSection section, Type type)
    {
        if (IsScalar(type))
        {
            CheckScalar(root, configFile, section, type);
            return;
        }
        var children = section.GetChildren().ToList();
        var element = ElementType(type);
        // An empty list or section ([] or {}) reads as ""; a list with items has no value of its own, unless a later
        // source (MILTER_Listen=...) sets one over the default's items.
        if (!string.IsNullOrEmpty(section.Value))
        {
            if (element is not null)
            {
                ListExamples.TryGetValue(PathWithoutIndices(section.Path), out var example);
                var hint = Source(root, configFile, section.Path) is { } from && from.StartsWith(ConfigLoader.EnvironmentPrefix, StringComparison.Ordinal)
                    ? $"; from the environment set {from}__0, {from}__1, ..."
                    : $", e.g. {example ?? "[ ... ]"}";
                throw new ConfigException($"config: {section.Path} must be a list{hint} (got \"{section.Value}\"{From(root, configFile, section.Path)})");
            }
            throw new ConfigException($"config: {section.Path} must be a section (a JSON object with keys), not the value \"{section.Value}\"{From(root, configFile, section.Path)}");
        }
        foreach (var child in children)
        {
            if (element is not null)
                CheckValue(root, configFile, child, element);
            else
                CheckSection(root, configFile, child, type);
        }
    }

    /// <summary>A single value of the property's type: <c>config: Server:MaxConnections = "many" (from
    /// MILTER_Server__MaxConnections) is not a whole number</c>. The conversion is the binder's own (the type's converter).</summary>
    private static void CheckScalar(IConfiguration root, string? configFile, IConfigurationSection section, Type type)
    {
        var source = Source(root, configFile, section.Path);
        var from = source is null ? "" : $" (from {source})";
        if (section.GetChildren().Any())
            throw new ConfigException($"config: {section.Path} must be a single value ({Expected(type)}), not a list or section{from}");
        var value = section.Value;
        var t = Nullable.GetUnderlyingType(type) ?? type;
        // "" (an empty JSON value or variable) leaves the default, as the binder does.
        if (string.IsNullOrEmpty(value) || t == typeof(string)) return;
        if (!Parses(t, value))
        {
            var what = IsWholeNumber(t) && value.TrimStart('-').All(char.IsAsciiDigit) && value.Trim('-').Length > 0
                ? $"is out of range (a whole number from {MinValue(t)} to {MaxValue(t)})"
                : $"is not {Expected(type)}";
            throw new ConfigException($"config: {section.Path} = \"{value}\"{from} {what}");
        }
    }

    /// <summary>Whether the configuration binder converts <paramref name="value"/> to <paramref name="t"/>: the parsing
    /// of its source-generated code (invariant culture; integers in NumberStyles.Integer, floating point in
    /// NumberStyles.Float). Only the scalar types of <see cref="MilterOptions"/> and their kin.</summary>
    internal static bool Parses(Type t, string value)
    {
        var c = CultureInfo.InvariantCulture;
        if (t == typeof(bool)) return bool.TryParse(value, out _);
        if (t == typeof(int)) return int.TryParse(value, NumberStyles.Integer, c, out _);
        if (t == typeof(long)) return long.TryParse(value, NumberStyles.Integer, c, out _);
        if (t == typeof(double)) return double.TryParse(value, NumberStyles.Float, c, out _);
        if (t == typeof(TimeSpan)) return TimeSpan.TryParse(value, c, out _);
        if (t.IsEnum) return Enum.TryParse(t, value, ignoreCase: true, out _);
        throw new InvalidOperationException($"config: no check for values of type {t.Name}");
    }

    /// <summary>The type a key wants, in words.</summary>
    internal static string Expected(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(bool)) return "true or false";
        if (IsWholeNumber(t)) return "a whole number";
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) return "a number";
        if (t == typeof(TimeSpan)) return "a time span such as 00:00:30";
        if (t.IsEnum) return "one of " + string.Join(", ", Enum.GetNames(t));
        return "a " + t.Name;
    }

    private static bool IsWholeNumber(Type t) => t == typeof(int) || t == typeof(long);

    private static string MinValue(Type t) => t == typeof(long) ? long.MinValue.ToString(CultureInfo.InvariantCulture) : int.MinValue.ToString(CultureInfo.InvariantCulture);

    private static string MaxValue(Type t) => t == typeof(long) ? long.MaxValue.ToString(CultureInfo.InvariantCulture) : int.MaxValue.ToString(CultureInfo.InvariantCulture);

    private static ConfigException Unknown(IConfiguration root, string? configFile, IConfigurationSection section, Type owner)
    {
        // The first value under an unknown section stands for it: its key, value and source.
        var leaf = FirstLeaf(section);
        var suggestion = Suggest(section.Key, owner);
        var parent = section.Path[..^section.Key.Length];
        var meant = suggestion is null ? "" : $"; did you mean {parent}{suggestion}{leaf.Path[section.Path.Length..]}?";
        return new ConfigException($"config: unknown key {leaf.Path} (value \"{leaf.Value}\"{From(root, configFile, leaf.Path)}){meant}");
    }

    private static IConfigurationSection FirstLeaf(IConfigurationSection section)
    {
        var child = section.GetChildren().FirstOrDefault();
        return child is null ? section : FirstLeaf(child);
    }

    private static string From(IConfiguration root, string? configFile, string key)
        => Source(root, configFile, key) is { } s ? ", from " + s : "";

    /// <summary>Where the value of <paramref name="key"/> comes from: the file, the environment variable, the command line.</summary>
    internal static string? Source(IConfiguration root, string? configFile, string key)
    {
        if (root is not IConfigurationRoot r) return null;
        foreach (var provider in r.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _) && !provider.GetChildKeys([], key).Any()) continue;
            return provider switch
            {
                EnvironmentVariablesConfigurationProvider => ConfigLoader.EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal),
                JsonConfigurationProvider => configFile is null ? "the config file" : Path.GetFullPath(configFile),
                MemoryConfigurationProvider => "the command line",
                _ => "the built-in defaults",
            };
        }
        return null;
    }

    private static PropertyInfo? FindProperty(Type owner, string name)
        => OptionTypes.Properties(owner).FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The known key at this level closest to <paramref name="name"/>, when a typo or two away.</summary>
    private static string? Suggest(string name, Type owner)
    {
        var best = OptionTypes.Properties(owner)
            .Select(p => (p.Name, Distance: EditDistance(name.ToUpperInvariant(), p.Name.ToUpperInvariant())))
            .OrderBy(x => x.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(1, Math.Min(3, name.Length / 4)) ? best.Name : null;
    }

    internal static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private static bool IsScalar(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan);
    }

    private static Type? ElementType(Type type) => type.IsArray ? type.GetElementType() : null;

    private static string PathWithoutIndices(string path)
        => string.Join(':', path.Split(':').Where(s => !s.All(char.IsAsciiDigit)));
}
