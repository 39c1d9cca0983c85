using Milter.TestKit;

namespace Milter.Tests.Deployment;

/// <summary>Runs docker/postfix/entrypoint.sh outside Docker, in a clean environment holding only the given
/// variables (and PATH), with the templates from the checkout's postfix-config/.</summary>
public static class PostfixEntrypoint
{
    public const string ShellPath = "/bin/sh";
    public const string EnvPath = "/usr/bin/env";

    public static Task<ProcessResult> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var argv = new List<string> { "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", $"POSTFIX_TEMPLATES={RepoFiles.Templates}",
            $"POSTFIX_BASE_MAIN={RepoFiles.PathOf("docker/postfix/main.cf.base")}" };
        argv.AddRange(environment.Select(e => $"{e.Key}={e.Value}"));
        argv.Add(ShellPath);
        argv.Add(RepoFiles.EntrypointScript);
        argv.AddRange(args);
        return ProcessRunner.RunAsync(EnvPath, argv, TimeSpan.FromSeconds(30));
    }

    /// <summary>`entrypoint.sh render DIR`: the filled role snippets (main.cf, master.cf).</summary>
    public static async Task<(string MainCf, string MasterCf)> RenderAsync(string directory, IReadOnlyDictionary<string, string> environment)
    {
        (await RunAsync(environment, "render", directory)).EnsureSuccess("entrypoint.sh render");
        return (File.ReadAllText(Path.Combine(directory, "main.cf")), File.ReadAllText(Path.Combine(directory, "master.cf")));
    }
}
