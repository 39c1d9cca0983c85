namespace Milter.Tests.Deployment;

/// <summary>Files of the checkout (postfix-config/, docker/): found by walking up from the test binaries to Milter.sln.</summary>
public static class RepoFiles
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Milter.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no Milter.sln above {AppContext.BaseDirectory}: the deployment tests read the checkout");
    });

    public static string Root => RootPath.Value;

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    public static string EntrypointScript => PathOf("docker/postfix/entrypoint.sh");
    public static string Templates => PathOf("postfix-config");
}
