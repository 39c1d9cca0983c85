using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Milter.Tests.Deployment;
using static Milter.Tests.Deployment.ComposeYaml;

namespace Milter.Tests.Docs;

/// <summary>docker/kubernetes/ as a cluster would take it (issue 20 item 7): images a cluster can pull, only files
/// that exist named in the comments, and the ConfigMap equal to docker/milter.json but for the differences its
/// comment names.</summary>
public sealed partial class KubernetesManifestTests
{
    private const string Folder = "docker/kubernetes";

    private static IEnumerable<string> Manifests() =>
        Directory.EnumerateFiles(RepoFiles.PathOf(Folder), "*.yaml").Order();

    private static List<Dictionary<object, object>> Containers()
    {
        var deployment = LoadAll(RepoFiles.PathOf($"{Folder}/deployment.yaml")).Single(d => (string)d["kind"] == "Deployment");
        return List(Map(Map(Map(deployment, "spec"), "template"), "spec"), "containers").Select(c => Map(c, "container")).ToList();
    }

    /// <summary>A local :latest tag is pulled on every start (imagePullPolicy defaults to Always for :latest) and
    /// fails on a cluster that does not have it: a version tag, pulled if not present.</summary>
    [Fact]
    public void Images_have_a_version_tag_and_are_pulled_only_when_not_present()
    {
        Assert.All(Containers(), c =>
        {
            var image = (string)c["image"];
            var tag = image.Contains(':', StringComparison.Ordinal) ? image[(image.LastIndexOf(':') + 1)..] : "";
            Assert.True(VersionTag().IsMatch(tag), $"{c["name"]}: image {image} has no version tag");
            Assert.Equal("IfNotPresent", c.GetValueOrDefault("imagePullPolicy"));
        });
    }

    [GeneratedRegex(@"^\d+\.\d+(\.\d+)?$")]
    private static partial Regex VersionTag();

    /// <summary>deployment.yaml once named a secret.example.yaml that did not exist. Names in comments are relative
    /// to the manifest's folder or to the checkout; absolute ones are paths inside the containers.</summary>
    [Fact]
    public void Files_named_in_the_manifests_comments_exist()
    {
        foreach (var manifest in Manifests())
        {
            var comments = File.ReadAllLines(manifest).Where(l => l.Contains('#', StringComparison.Ordinal)).Select(l => l[l.IndexOf('#')..]);
            foreach (var name in comments.SelectMany(c => YamlFileName().Matches(c)).Select(m => m.Value).Where(n => !n.StartsWith('/')))
            {
                var found = File.Exists(Path.Combine(RepoFiles.PathOf(Folder), name)) || File.Exists(RepoFiles.PathOf(name));
                Assert.True(found, $"{Path.GetFileName(manifest)} names {name}, which does not exist");
            }
        }
    }

    [GeneratedRegex(@"[A-Za-z0-9_./-]+\.(yaml|json)\b")]
    private static partial Regex YamlFileName();

    /// <summary>The keys whose values differ between the ConfigMap and docker/milter.json, each explained in the
    /// ConfigMap's comment (and in docker/README.md).</summary>
    private static readonly string[] DocumentedDifferences = ["Listen", "Server:UnixSocketMode", "Signing:Keys"];

    [Fact]
    public void Config_map_is_docker_milter_json_but_for_the_differences_its_comment_names()
    {
        var text = File.ReadAllText(RepoFiles.PathOf($"{Folder}/config.yaml"));
        var configMap = LoadAll(RepoFiles.PathOf($"{Folder}/config.yaml")).Single(d => (string)d["kind"] == "ConfigMap");
        var inCluster = Flatten(JsonNode.Parse((string)Map(configMap, "data")["milter.json"])!);
        var container = Flatten(JsonNode.Parse(RepoFiles.Read("docker/milter.json"))!);
        var differing = inCluster.Keys.Union(container.Keys)
            .Where(k => inCluster.GetValueOrDefault(k) != container.GetValueOrDefault(k))
            .Select(k => DocumentedDifferences.FirstOrDefault(d => k == d || k.StartsWith(d + ":", StringComparison.Ordinal)) ?? k)
            .Distinct().Order().ToArray();
        Assert.Equal(DocumentedDifferences.Order(), differing);
        var comment = string.Join('\n', text.Split('\n').TakeWhile(l => l.StartsWith('#')));
        Assert.All(DocumentedDifferences, d => Assert.Contains($"# - {d}:", comment, StringComparison.Ordinal));
        Assert.DoesNotContain("same content", comment, StringComparison.Ordinal);
    }

    /// <summary>JSON as KEY:SUB:0 = value lines, the way Microsoft.Extensions.Configuration names them.</summary>
    private static Dictionary<string, string> Flatten(JsonNode node, string prefix = "")
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o) Merge(result, Flatten(value!, prefix.Length == 0 ? key : $"{prefix}:{key}"));
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++) Merge(result, Flatten(a[i]!, $"{prefix}:{i}"));
                break;
            default:
                result[prefix] = node.ToJsonString();
                break;
        }
        return result;
    }

    private static void Merge(Dictionary<string, string> into, Dictionary<string, string> from)
    {
        foreach (var (k, v) in from) into[k] = v;
    }

    [Fact]
    public void No_manifest_holds_a_secret_and_the_readme_applies_every_manifest()
    {
        var readme = RepoFiles.Read(DocCommandBlockTests.DockerReadme);
        foreach (var manifest in Manifests())
        {
            Assert.DoesNotContain(LoadAll(manifest), d => (string)d["kind"] == "Secret");
            Assert.Contains($"-f kubernetes/{Path.GetFileName(manifest)}", readme, StringComparison.Ordinal);
        }
    }
}
