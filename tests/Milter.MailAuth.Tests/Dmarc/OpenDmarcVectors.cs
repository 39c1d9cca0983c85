using YamlDotNet.RepresentationModel;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>Loads TestData/dmarc/opendmarc-vectors.yaml (see its PROVENANCE.md); each entry one theory row.</summary>
internal static class OpenDmarcVectors
{
    private static readonly Lazy<YamlMappingNode> RootNode = new(() =>
    {
        using var reader = new StreamReader(Path.Combine(AppContext.BaseDirectory, "TestData", "dmarc", "opendmarc-vectors.yaml"));
        var stream = new YamlStream();
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    });

    /// <summary>The entries of one section as string dictionaries.</summary>
    public static IEnumerable<Dictionary<string, string>> Section(string name) =>
        ((YamlSequenceNode)RootNode.Value[name]).Children.Cast<YamlMappingNode>().Select(m =>
            m.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value ?? ""));

    public static TheoryData<int> Numbers(string section)
    {
        var data = new TheoryData<int>();
        foreach (var entry in Section(section))
            data.Add(int.Parse(entry["n"], System.Globalization.CultureInfo.InvariantCulture));
        return data;
    }

    public static Dictionary<string, string> Entry(string section, int n) =>
        Section(section).Single(e => e["n"] == n.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
