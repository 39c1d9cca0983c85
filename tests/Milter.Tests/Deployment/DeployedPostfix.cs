using Milter.TestKit;
using Milter.TestKit.Postfix;

namespace Milter.Tests.Deployment;

/// <summary>
/// A private Postfix whose role settings are exactly what docker/postfix/entrypoint.sh renders from
/// postfix-config/: the rendered main.cf is appended to the TestKit's base (paths, loopback, log file; later
/// lines win), and the rendered master.cf replaces the TestKit's own smtpd line. Only ports and paths are
/// test values, passed as the same environment variables the container uses.
/// </summary>
public static class DeployedPostfix
{
    /// <summary>The environment of a relay on loopback that uses the milter on <paramref name="milterPort"/>.</summary>
    public static Dictionary<string, string> RelayEnvironment(int milterPort, string roles = "relay") => new()
    {
        ["POSTFIX_ROLES"] = roles,
        ["MYHOSTNAME"] = "relay.example.test",
        ["MYDOMAIN"] = "example.test",
        ["MYNETWORKS"] = "127.0.0.0/8",
        ["RELAYHOST"] = "[127.0.0.1]:{SINK_PORT}",
        ["POSTFIX_MILTER"] = $"inet:127.0.0.1:{milterPort}",
        ["SMTPD_LISTEN"] = "127.0.0.1:{SMTPD_PORT}",
    };

    /// <summary>Renders with the entrypoint and starts Postfix with the result. <paramref name="testSettings"/> replace
    /// TestKit base parameters; they may not touch a parameter the templates set (a test must not weaken them).</summary>
    public static async Task<PostfixInstance> StartAsync(IReadOnlyDictionary<string, string> environment,
        IReadOnlyDictionary<string, string>? testSettings = null)
    {
        using var dir = new TempDir("rendered");
        var (mainCf, masterCf) = await PostfixEntrypoint.RenderAsync(dir.Sub("out"), environment);
        var templateKeys = ParameterNames(mainCf);
        testSettings ??= new Dictionary<string, string>();
        Assert.Empty(testSettings.Keys.Intersect(templateKeys));
        // Postfix warns about every parameter set twice, and many such warnings at start-up stall its logging;
        // so the base keeps only what the rendered file does not set.
        var baseLines = PostfixConfig.DefaultMainCf().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !templateKeys.Contains(NameOf(l)) && !testSettings.ContainsKey(NameOf(l)));
        var options = new PostfixOptions
        {
            MainCfTemplate = string.Join('\n', baseLines) + "\n" +
                string.Concat(testSettings.Select(p => $"{p.Key} = {p.Value}\n")) +
                "# --- rendered by docker/postfix/entrypoint.sh from postfix-config/ ---\n" + mainCf,
            MasterCfTemplate = TestKitServicesWithoutSmtpd() + masterCf,
        };
        return await PostfixInstance.StartAsync(options);
    }

    /// <summary>The parameter names a main.cf text sets (comment and continuation lines skipped).</summary>
    public static HashSet<string> ParameterNames(string mainCf) =>
        mainCf.Split('\n').Where(l => l.Length > 0 && l[0] is not ('#' or ' ' or '\t') && l.Contains('=', StringComparison.Ordinal))
            .Select(NameOf).ToHashSet(StringComparer.Ordinal);

    private static string NameOf(string line) => line.Split('=', 2)[0].Trim();

    /// <summary>The TestKit's master.cf minus its smtpd line: the rendered templates define the SMTP services.</summary>
    private static string TestKitServicesWithoutSmtpd()
    {
        var lines = PostfixConfig.Master.Split('\n').Where(l => !l.Contains(" inet ", StringComparison.Ordinal)).ToList();
        Assert.Equal(PostfixConfig.Master.Split('\n').Length - 1, lines.Count);
        return string.Join('\n', lines) + "\n";
    }
}
