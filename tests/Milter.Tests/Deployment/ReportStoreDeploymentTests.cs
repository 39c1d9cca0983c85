using Milter.Configuration;
using Milter.Reporting.Aggregate;
using static Milter.Tests.Deployment.ComposeYaml;

namespace Milter.Tests.Deployment;

/// <summary>The shared PostgreSQL report store in docker/: compose's postgres profile (two relay pairs, one store) and the
/// Kubernetes pod's connection string from a Secret, never a literal in a file.</summary>
public sealed class ReportStoreDeploymentTests
{
    private static Dictionary<object, object> Services() => Map(Assert.Single(LoadAll(RepoFiles.PathOf("docker/compose.yaml"))), "services");

    private static Dictionary<string, string> Environment(Dictionary<object, object> service) =>
        Map(service, "environment").ToDictionary(e => (string)e.Key, e => Interpolate(e.Value?.ToString() ?? ""));

    private static bool InProfile(Dictionary<object, object> service, string profile) =>
        List(service, "profiles").Cast<string>().Contains(profile);

    [Fact]
    public void Compose_postgres_profile_runs_two_relay_pairs_whose_milters_share_one_store()
    {
        var services = Services();
        var profile = services.Select(s => ((string)s.Key, Map(s.Value, (string)s.Key))).Where(s => InProfile(s.Item2, "postgres")).ToDictionary();
        var db = Assert.Single(profile, s => !s.Value.ContainsKey("build"));
        Assert.Contains("pg_isready", string.Join(' ', List(Map(db.Value, "healthcheck"), "test").Cast<string>()));
        Assert.False(db.Value.ContainsKey("ports"), "the report database must stay on the compose network");
        var dbEnv = Environment(db.Value);

        var milters = profile.Where(s => s.Value.ContainsKey("build") && Environment(s.Value).ContainsKey("MILTER_Reports__Store")).ToList();
        Assert.Equal(2, milters.Count);
        var connectionStrings = new HashSet<string>();
        foreach (var (name, milter) in milters)
        {
            var env = Environment(milter);
            var reports = new ReportsSection { Store = env["MILTER_Reports__Store"], ConnectionString = env["MILTER_Reports__ConnectionString"] };
            Assert.Empty(ReportStoreStartup.Problems(reports));
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(reports.ConnectionString);
            Assert.Equal(db.Key, builder.Host);
            Assert.Equal(dbEnv["POSTGRES_DB"], builder.Database);
            Assert.Equal(dbEnv["POSTGRES_USER"], builder.Username);
            Assert.Equal(dbEnv["POSTGRES_PASSWORD"], builder.Password);
            Assert.Equal("service_healthy", Map(Map(milter, "depends_on"), db.Key)["condition"]);
            connectionStrings.Add(reports.ConnectionString!);
            // Each relay pair: a Postfix of the profile that uses this milter.
            Assert.Single(profile, s => s.Value.ContainsKey("build") && Environment(s.Value).GetValueOrDefault("POSTFIX_MILTER") == $"inet:{name}:8891");
        }
        Assert.Single(connectionStrings);
        // The profile stays out of the default `docker compose up` and of the standby profile.
        Assert.All(profile.Values, s => Assert.Equal(["postgres"], List(s, "profiles").Cast<string>()));
    }

    [Fact]
    public void Kubernetes_pod_takes_the_report_store_from_an_optional_secret_and_no_file_holds_a_connection_string()
    {
        var deployment = LoadAll(RepoFiles.PathOf("docker/kubernetes/deployment.yaml")).Single(d => (string)d["kind"] == "Deployment");
        var pod = Map(Map(Map(deployment, "spec"), "template"), "spec");
        var milter = List(pod, "containers").Select(c => Map(c, "container")).Single(c => (string)c["name"] == "milter");
        var env = List(milter, "env").Select(e => Map(e, "env")).ToDictionary(e => (string)e["name"]);
        foreach (var name in new[] { "MILTER_Reports__Store", "MILTER_Reports__ConnectionString" })
        {
            Assert.False(env[name].ContainsKey("value"), $"{name} must come from the Secret, not the file");
            var secret = Map(Map(env[name], "valueFrom"), "secretKeyRef");
            Assert.Equal("milter-reports", secret["name"]);
            Assert.Equal("true", secret["optional"].ToString()!.ToLowerInvariant());
        }
        var readme = RepoFiles.Read("docker/README.md");
        Assert.Contains("kubectl create secret generic milter-reports", readme, StringComparison.Ordinal);
        var configMap = RepoFiles.Read("docker/kubernetes/config.yaml");
        Assert.DoesNotContain("ConnectionString", configMap, StringComparison.Ordinal);
    }
}
