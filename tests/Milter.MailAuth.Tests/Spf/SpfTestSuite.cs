using YamlDotNet.RepresentationModel;

namespace Milter.MailAuth.Tests.Spf;

/// <summary>One test of the openspf YAML suite.</summary>
public sealed record SpfSuiteCase(
    string Scenario, string Id, string Spec, string Helo, string Host, string MailFrom,
    IReadOnlyList<string> Results, string? Explanation, string? Description);

/// <summary>One scenario: its tests and its DNS zone.</summary>
public sealed record SpfSuiteScenario(string Description, IReadOnlyList<SpfSuiteCase> Cases, ZoneData Zone);

/// <summary>Loads the openspf test-suite format (a stream of YAML documents; see TestData/spf/PROVENANCE.md).</summary>
public static class SpfTestSuite
{
    public static IReadOnlyList<SpfSuiteScenario> Load(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
            stream.Load(reader);
        var scenarios = new List<SpfSuiteScenario>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is not YamlMappingNode root || !root.Children.ContainsKey(new YamlScalarNode("tests")))
                continue;
            var description = Scalar(root, "description") ?? $"scenario {scenarios.Count + 1}";
            var cases = new List<SpfSuiteCase>();
            foreach (var (key, value) in (YamlMappingNode)root[new YamlScalarNode("tests")])
            {
                var test = (YamlMappingNode)value;
                var resultNode = test[new YamlScalarNode("result")];
                var results = resultNode is YamlSequenceNode seq
                    ? seq.Children.Select(n => ((YamlScalarNode)n).Value!.Trim()).ToArray()
                    : new[] { ((YamlScalarNode)resultNode).Value!.Trim() };
                cases.Add(new SpfSuiteCase(description, ((YamlScalarNode)key).Value!, Scalar(test, "spec") ?? "",
                    Scalar(test, "helo") ?? "", Scalar(test, "host") ?? "", Scalar(test, "mailfrom") ?? "",
                    results, Scalar(test, "explanation"), Scalar(test, "description")));
            }
            var zone = root.Children.TryGetValue(new YamlScalarNode("zonedata"), out var zoneNode)
                ? ZoneData.FromYaml((YamlMappingNode)zoneNode)
                : new ZoneData();
            scenarios.Add(new SpfSuiteScenario(description, cases, zone));
        }
        return scenarios;
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode s ? s.Value : null;
}
