using System.Globalization;
using System.Text.RegularExpressions;
using Milter.TestKit;
using Xunit.Abstractions;

namespace Milter.Containers.Tests.Packaging;

/// <summary>packaging/systemd/milter.service read offline by systemd-analyze: its sandbox rates 2.0 or lower.</summary>
public sealed partial class UnitFileTests(ITestOutputHelper output)
{
    private const string SystemdAnalyze = "/usr/bin/systemd-analyze";

    [Fact]
    public async Task Security_exposure_is_two_or_lower()
    {
        ProcessRunner.Require(SystemdAnalyze, "systemd");
        string unit = Repo.PathOf("packaging/systemd/milter.service");
        var run = await ProcessRunner.RunAsync(SystemdAnalyze, ["security", "--offline=yes", "--no-pager", unit], TimeSpan.FromMinutes(1));
        var match = ExposureLine().Match(run.StdOut);
        Assert.True(match.Success, "no exposure level in the output\n" + run.Describe());
        double exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        output.WriteLine(match.Value);
        Figures.Add($"systemd-analyze security milter.service: exposure {match.Groups[1].Value}");
        Assert.True(exposure <= 2.0, $"exposure {exposure} is above 2.0\n{run.StdOut}");
    }

    [GeneratedRegex(@"Overall exposure level for milter\.service: ([0-9]+\.[0-9])")]
    private static partial Regex ExposureLine();
}
