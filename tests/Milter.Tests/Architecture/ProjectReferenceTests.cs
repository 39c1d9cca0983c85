using System.Reflection;
using System.Xml.Linq;
using Milter.Configuration;
using Milter.MailAuth.AuthenticationResults;
using Milter.Protocol.Server;
using Milter.Tests.Deployment;

namespace Milter.Tests.Architecture;

/// <summary>
/// The arrows between the projects (issue 21 item 7): Milter.Protocol knows nothing of mail authentication,
/// Milter.MailAuth nothing of the milter protocol or the executable, and only Milter joins them. Checked twice,
/// because each way misses something the other sees:
/// - the .csproj files (ProjectReference, PackageReference): what a project declares, used or not yet, and a
///   new project with no rule here fails;
/// - the compiled assemblies (AssemblyName.GetReferencedAssemblies): what the code really uses, including an
///   assembly reached only transitively (a project may use types of its references' references without
///   declaring them).
/// </summary>
public sealed class ProjectReferenceTests
{
    /// <summary>Packages that carry mail-authentication knowledge: MIME, DNS, crypto, SMTP.</summary>
    private static readonly string[] MailAuthPackages = ["MimeKit", "MailKit", "DnsClient", "BouncyCastle.Cryptography"];

    /// <summary>The project references each project may have: the production ones by rule, the test and fuzz
    /// projects as they are. A project missing here fails <see cref="Every_project_has_a_rule_and_keeps_it"/>.</summary>
    private static readonly Dictionary<string, string[]> AllowedProjects = new(StringComparer.Ordinal)
    {
        ["Milter.Protocol"] = [],
        ["Milter.MailAuth"] = [],
        ["Milter"] = ["Milter.Protocol", "Milter.MailAuth"],
        ["Milter.TestKit"] = [],
        ["Milter.Protocol.Tests"] = ["Milter.Protocol", "Milter.TestKit"],
        ["Milter.MailAuth.Tests"] = ["Milter.MailAuth", "Milter.TestKit"],
        ["Milter.Tests"] = ["Milter", "Milter.Protocol", "Milter.MailAuth", "Milter.TestKit"],
        ["Milter.Containers.Tests"] = ["Milter.TestKit"],
        ["Milter.Fuzz"] = ["Milter.Protocol", "Milter.MailAuth"],
    };

    /// <summary>Packages a project must not take (the rest is free: the executable and tests choose theirs).</summary>
    private static readonly Dictionary<string, string[]> ForbiddenPackages = new(StringComparer.Ordinal)
    {
        ["Milter.Protocol"] = MailAuthPackages,
    };

    private static IEnumerable<string> ProjectFiles() =>
        Directory.EnumerateFiles(RepoFiles.Root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Split(Path.DirectorySeparatorChar).Any(d => d is "bin" or "obj" or ".git"))
            .Order(StringComparer.Ordinal);

    private static IEnumerable<string> Items(XDocument project, string item) =>
        project.Descendants(item).Select(e => (string?)e.Attribute("Include")).OfType<string>();

    [Fact]
    public void Every_project_has_a_rule_and_keeps_it()
    {
        var seen = new List<string>();
        foreach (var file in ProjectFiles())
        {
            var name = Path.GetFileNameWithoutExtension(file);
            seen.Add(name);
            Assert.True(AllowedProjects.TryGetValue(name, out var allowed),
                $"{Path.GetRelativePath(RepoFiles.Root, file)}: no rule in {nameof(ProjectReferenceTests)}.{nameof(AllowedProjects)}; add one");
            var project = XDocument.Load(file);
            var references = Items(project, "ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Replace('\\', '/'))).Order(StringComparer.Ordinal);
            Assert.True(references.SequenceEqual(allowed.Order(StringComparer.Ordinal)),
                $"{name} references [{string.Join(", ", references)}]; allowed: [{string.Join(", ", allowed)}]");
            var packages = Items(project, "PackageReference").ToList();
            // NuGet ids are case-insensitive: Include="mimekit" is MimeKit.
            var forbidden = packages.Intersect(ForbiddenPackages.GetValueOrDefault(name, []), StringComparer.OrdinalIgnoreCase).ToList();
            Assert.True(forbidden.Count == 0, $"{name} takes a package it must not: {string.Join(", ", forbidden)}");
        }
        Assert.Subset(seen.ToHashSet(), new HashSet<string>(["Milter.Protocol", "Milter.MailAuth", "Milter"])); // the walk found the checkout
    }

    public static TheoryData<string, string[]> ForbiddenAssemblies() => new()
    {
        // No mail-authentication knowledge in the codec, session and server.
        { "Milter.Protocol", ["Milter", "Milter.MailAuth", .. MailAuthPackages] },
        // No milter knowledge in the engines, and never the executable.
        { "Milter.MailAuth", ["Milter", "Milter.Protocol"] },
    };

    private static readonly Dictionary<string, Assembly> Assemblies = new(StringComparer.Ordinal)
    {
        ["Milter.Protocol"] = typeof(MilterServer).Assembly,
        ["Milter.MailAuth"] = typeof(AuthMethodResult).Assembly,
        ["Milter"] = typeof(MilterOptions).Assembly,
    };

    /// <summary>The executable's assembly is named `milter` (milter.dll): names compare without case.</summary>
    [Theory]
    [MemberData(nameof(ForbiddenAssemblies))]
    public void Compiled_assembly_uses_none_of_the_forbidden_ones(string project, string[] forbidden)
    {
        var used = Assemblies[project].GetReferencedAssemblies().Select(a => a.Name!).ToList();
        var bad = used.Where(u => forbidden.Contains(u, StringComparer.OrdinalIgnoreCase)).ToList();
        Assert.True(bad.Count == 0, $"{project} uses {string.Join(", ", bad)}");
    }

    [Fact]
    public void The_executable_joins_both_engines()
    {
        Assert.Equal("milter", Assemblies["Milter"].GetName().Name);
        var used = Assemblies["Milter"].GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("Milter.Protocol", used);
        Assert.Contains("Milter.MailAuth", used);
    }
}
