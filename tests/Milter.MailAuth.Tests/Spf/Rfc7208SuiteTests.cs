using System.Net;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Spf;

/// <summary>The openspf RFC 7208 test suite (TestData/spf/rfc7208-tests.yml): one case per (scenario, test id).</summary>
public sealed class Rfc7208SuiteTests
{
    private static readonly Lazy<IReadOnlyList<SpfSuiteScenario>> Suite = new(() =>
        SpfTestSuite.Load(Path.Combine(AppContext.BaseDirectory, "TestData", "spf", "rfc7208-tests.yml")));

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var scenario in Suite.Value)
            foreach (var test in scenario.Cases)
                data.Add(scenario.Description, test.Id);
        return data;
    }

    internal static (SpfSuiteScenario Scenario, SpfSuiteCase Case) Find(string scenario, string test)
    {
        var s = Suite.Value.Single(x => x.Description == scenario);
        return (s, s.Cases.Single(c => c.Id == test));
    }

    [Fact]
    public void Suite_has_all_203_tests_in_16_scenarios()
    {
        Assert.Equal(16, Suite.Value.Count);
        Assert.Equal(203, Suite.Value.Sum(s => s.Cases.Count));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rfc7208(string scenario, string test)
    {
        var (s, c) = Find(scenario, test);
        var checker = new SpfChecker(new ZoneDataResolver(s.Zone), new SpfOptions(), TimeProvider.System);
        var result = await checker.CheckMailFromAsync(IPAddress.Parse(c.Host), c.MailFrom, c.Helo, CancellationToken.None);
        AssertMatches(c, result);
    }

    internal static void AssertMatches(SpfSuiteCase c, SpfResult result)
    {
        Assert.True(c.Results.Contains(result.Keyword),
            $"{c.Id} ({c.Spec}): expected {string.Join(" or ", c.Results)}, got {result.Keyword} " +
            $"[domain {result.Domain}, reason: {result.Reason}, mechanism: {result.Mechanism}]");
        if (c.Explanation is null || result.Code != SpfResultCode.Fail)
            return;
        if (c.Explanation == "DEFAULT")
        {
            // The suite leaves the default text to the implementation; it must be ours, not the domain's exp=.
            Assert.True(result.ExplanationIsDefault, $"expected the default explanation, got \"{result.Explanation}\"");
            Assert.False(string.IsNullOrEmpty(result.Explanation));
            return;
        }
        Assert.False(result.ExplanationIsDefault, $"expected the domain's explanation \"{c.Explanation}\", got the default");
        if (c.Id == "v-macro-ip6")
        {
            // The suite spells the reversed nibbles of %{ir} in upper case ("E.B.A.B.E.F.A.C.ip6.arpa") while
            // RFC 7208 7.3's example and our expansion use lower case; DNS names compare case-insensitively.
            Assert.Equal(c.Explanation, result.Explanation, ignoreCase: true);
            return;
        }
        Assert.Equal(c.Explanation, result.Explanation);
    }
}
