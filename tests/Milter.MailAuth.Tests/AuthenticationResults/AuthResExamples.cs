using YamlDotNet.RepresentationModel;

namespace Milter.MailAuth.Tests.AuthenticationResults;

/// <summary>Loads TestData/authres/authres-examples.yaml (see its PROVENANCE.md).</summary>
internal static class AuthResExamples
{
    private static readonly Lazy<YamlMappingNode> RootNode = new(Load);

    public static YamlMappingNode Root => RootNode.Value;

    private static YamlMappingNode Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestData", "authres", "authres-examples.yaml");
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    public static YamlSequenceNode Sequence(string key) => (YamlSequenceNode)Root[key];

    public static YamlMappingNode Mapping(string key) => (YamlMappingNode)Root[key];

    public static string? Scalar(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value : null;

    public static YamlNode? Child(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    /// <summary>The field value: the text after "Authentication-Results:" when the example carries the name.</summary>
    public static string StripName(string header)
    {
        const string name = "Authentication-Results:";
        return header.StartsWith(name, StringComparison.OrdinalIgnoreCase) ? header[name.Length..] : header;
    }
}
