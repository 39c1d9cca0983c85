using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Milter.Tests.Deployment;

/// <summary>YAML files of docker/ read as plain trees (merge keys resolved, as Compose does), and Compose's
/// ${NAME:-default} interpolation resolved to the default, as on a host with no .env file.</summary>
public static partial class ComposeYaml
{
    public static List<Dictionary<object, object>> LoadAll(string path)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new MergingParser(new Parser(new StringReader(File.ReadAllText(path))));
        var documents = new List<Dictionary<object, object>>();
        parser.Consume<YamlDotNet.Core.Events.StreamStart>();
        while (parser.Accept<YamlDotNet.Core.Events.DocumentStart>(out _))
            documents.Add(deserializer.Deserialize<Dictionary<object, object>>(parser));
        return documents;
    }

    public static Dictionary<object, object> Map(object? node, string what) =>
        node as Dictionary<object, object> ?? throw new InvalidDataException($"{what}: expected a mapping");

    public static Dictionary<object, object> Map(Dictionary<object, object> parent, string key) =>
        parent.TryGetValue(key, out var v) ? Map(v, key) : throw new InvalidDataException($"missing key {key}");

    public static List<object> List(Dictionary<object, object> parent, string key) =>
        parent.TryGetValue(key, out var v) && v is List<object> l ? l : [];

    public static string Interpolate(string value) =>
        Variable().Replace(value, m => m.Groups[2].Success ? m.Groups[2].Value : "");

    [GeneratedRegex(@"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")]
    private static partial Regex Variable();
}
