namespace Milter.Containers.Tests;

/// <summary>The checkout the images are built from: found by walking up from the test binaries to Milter.sln.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Milter.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no Milter.sln above {AppContext.BaseDirectory}: the container tests build the checkout");
    });

    public static string Root => RootPath.Value;

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>tests/Milter.Containers.Tests/lab: podman settings and the base-image script.</summary>
    public static string Lab => PathOf("tests/Milter.Containers.Tests/lab");
}
