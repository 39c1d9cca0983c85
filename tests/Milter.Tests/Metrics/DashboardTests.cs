using System.Text.Json;
using System.Text.RegularExpressions;
using Milter.Metrics;
using Milter.Tests.Deployment;

namespace Milter.Tests.Metrics;

/// <summary>Issue 18 part 1: the Grafana dashboard in docker/ and the README's list of metrics name only what the
/// exporter serves, and the README names all of it.</summary>
public sealed partial class DashboardTests
{
    public const string Dashboard = "docker/grafana/milter-dashboard.json";

    [GeneratedRegex(@"\bmilter_[a-z0-9_]+")]
    private static partial Regex MetricName();

    /// <summary>The families of a scrape ("# TYPE" lines): name and type.</summary>
    internal static Dictionary<string, string> ExportedFamilies()
    {
        using var metrics = new MilterMetrics();
        using var collector = new PrometheusCollector(metrics.Meter);
        return collector.Render().Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).ToDictionary(p => p[2], p => p[3], StringComparer.Ordinal);
    }

    /// <summary>The names a scrape can show: each family and, for a histogram, its _bucket, _sum and _count series.</summary>
    internal static HashSet<string> ExportedNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, type) in ExportedFamilies())
        {
            names.Add(name);
            if (type == "histogram") names.UnionWith(new[] { "_bucket", "_sum", "_count" }.Select(s => name + s));
        }
        return names;
    }

    internal static IReadOnlyList<string> DashboardExpressions()
    {
        using var json = JsonDocument.Parse(RepoFiles.Read(Dashboard));
        var exprs = new List<string>();
        void Walk(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in e.EnumerateObject())
                {
                    if (p.Name == "expr" && p.Value.ValueKind == JsonValueKind.String) exprs.Add(p.Value.GetString()!);
                    else Walk(p.Value);
                }
            }
            else if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in e.EnumerateArray()) Walk(item);
            }
        }
        Walk(json.RootElement);
        return exprs;
    }

    [Fact]
    public void Every_metric_the_dashboard_queries_is_in_the_exporter_output()
    {
        var exported = ExportedNames();
        var exprs = DashboardExpressions();
        Assert.True(exprs.Count >= 10, $"{Dashboard}: only {exprs.Count} queries found");
        var used = exprs.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
        var missing = used.Where(n => !exported.Contains(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"{Dashboard} queries metrics the exporter does not serve: {string.Join(", ", missing)}");
        // And it shows every family (a histogram through any of its series).
        Assert.All(ExportedFamilies().Keys, f => Assert.Contains(used, u => u == f || u.StartsWith(f + "_", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_README_names_every_exported_metric_and_no_other()
    {
        var readme = RepoFiles.Read("README.md");
        var start = readme.IndexOf("\n## Metrics\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no section \"## Metrics\"");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? readme[start..] : readme[start..end];
        var named = MetricName().Matches(section).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
        Assert.All(ExportedFamilies().Keys, n => Assert.Contains(n, named));
        var exported = ExportedNames();
        Assert.All(named, n => Assert.Contains(n, exported));
    }
}
