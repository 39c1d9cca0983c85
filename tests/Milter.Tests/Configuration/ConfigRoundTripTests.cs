using System.Collections;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Milter.Configuration;
using Milter.Tests.Deployment;

namespace Milter.Tests.Configuration;

/// <summary>
/// Every key of <see cref="MilterOptions"/> set to a value that is not its default comes back from
/// <see cref="ConfigLoader.Bind"/> with that value, and so does every key of the shipped sample configs: a key the
/// binder silently stops binding (the source-generated binder, a type missing from <see cref="OptionTypes"/>, a list
/// appended to its default instead of replacing it) fails here. The keys are found by reflection on the options,
/// so a new key is covered without editing this test.
/// </summary>
public sealed class ConfigRoundTripTests
{
    [Fact]
    public void Every_key_set_to_a_non_default_value_binds()
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        AddKeys(keys, "", typeof(MilterOptions), new MilterOptions());
        Assert.True(keys.Count > 60, $"only {keys.Count} keys found");
        var options = ConfigLoader.Bind(ConfigLoader.BuildConfiguration(null, keys, environment: false));
        Assert.All(keys, k => Assert.Equal(k.Value, Text(Read(options, k.Key))));
    }

    [Fact]
    public void Lists_set_in_the_config_replace_their_default_and_empty_lists_are_empty()
    {
        var keys = new Dictionary<string, string?> { ["Listen:0"] = "unix:/run/a.sock", ["Signing:InternalHosts"] = "" };
        var options = ConfigLoader.Bind(ConfigLoader.BuildConfiguration(null, keys, environment: false));
        Assert.Equal(["unix:/run/a.sock"], options.Listen!);
        Assert.Empty(options.Signing.InternalHosts!);
        Assert.Null(options.Signing.SignHeaders); // not set: keeps its default (null: the built-in header list)
        Assert.Equal(["From"], options.Signing.OversignHeaders!);
    }

    [Theory]
    [InlineData("docker/milter.json")]
    [InlineData("packaging/deb/milter.json")]
    public void Every_key_of_a_sample_config_binds(string sample)
    {
        var file = RepoFiles.PathOf(sample);
        var leaves = new ConfigurationBuilder().AddJsonFile(file).Build().AsEnumerable()
            .Where(kv => kv.Value is not null).ToList();
        Assert.NotEmpty(leaves);
        var options = ConfigLoader.Bind(ConfigLoader.BuildConfiguration(file, environment: false), file);
        foreach (var (key, value) in leaves)
        {
            var actual = Read(options, key);
            if (value!.Length == 0 && actual is IList list) // [] or {} in the file
                Assert.True(list.Count == 0, $"{sample}: {key} is [] in the file but has {list.Count} items");
            else
                Assert.True(string.Equals(value, Text(actual), StringComparison.OrdinalIgnoreCase), $"{sample}: {key} = \"{value}\" bound as \"{Text(actual)}\"");
        }
    }

    /// <summary>A key for every scalar under <paramref name="type"/>, two items for every list, with values that
    /// differ from the defaults of <paramref name="defaults"/>.</summary>
    private static void AddKeys(Dictionary<string, string?> keys, string prefix, Type type, object defaults)
    {
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var path = prefix + p.Name;
            var t = p.PropertyType;
            if (t.IsArray)
            {
                var element = t.GetElementType()!;
                for (var i = 0; i < 2; i++)
                {
                    if (element == typeof(string)) keys[$"{path}:{i}"] = $"{path.Replace(':', '.')}-{i}";
                    else AddKeys(keys, $"{path}:{i}:", element, Activator.CreateInstance(element)!);
                }
            }
            else if (t == typeof(string)) keys[path] = "v-" + path.Replace(':', '.');
            else if (t == typeof(bool)) keys[path] = Text(!(bool)p.GetValue(defaults)!);
            else if (t == typeof(int)) keys[path] = Text((int)p.GetValue(defaults)! + 7);
            else if (t == typeof(double)) keys[path] = Text((double)p.GetValue(defaults)! + 1.5);
            else if (t.IsClass) AddKeys(keys, path + ":", t, p.GetValue(defaults) ?? Activator.CreateInstance(t)!);
            else Assert.Fail($"{path}: no test value for a {t.Name}; add one here");
        }
    }

    /// <summary>The value at a configuration path (Signing:Rules:0:From:1) of the bound options.</summary>
    private static object? Read(object options, string path)
    {
        object? current = options;
        foreach (var segment in path.Split(':'))
        {
            if (current is null) return null;
            if (int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && current is IList list)
            {
                current = index < list.Count ? list[index] : null;
                continue;
            }
            var property = current.GetType().GetProperty(segment, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            Assert.True(property is not null, $"{path}: no property {segment} on {current.GetType().Name}");
            current = property.GetValue(current);
        }
        return current;
    }

    private static string? Text(object? value) => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString(),
    };
}
