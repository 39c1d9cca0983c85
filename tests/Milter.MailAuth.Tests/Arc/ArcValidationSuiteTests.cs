using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>Every validation test of the ValiMail ARC suite: the chain validation status must be the expected cv.</summary>
public sealed class ArcValidationSuiteTests
{
    public static TheoryData<string> Cases => ArcTestSuite.Ids(ArcTestSuite.ValidationFile);

    [Fact]
    public void The_suite_has_its_171_validation_tests() => Assert.Equal(171, ArcTestSuite.Load(ArcTestSuite.ValidationFile).Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Chain_validation_status_is_the_expected_cv(string id)
    {
        var test = ArcTestSuite.Case(ArcTestSuite.ValidationFile, id);
        // An empty cv: the newest ARC-Seal already says cv=fail (see TestData/arc/PROVENANCE.md).
        var expected = test.Field("cv") is { Length: > 0 } cv ? cv.ToLowerInvariant() : "fail";
        var verifier = new DkimVerifier(test.Resolver(), timeProvider: new FixedTimeProvider(1_700_000_000));
        var (_, arc) = await ArcVerification.VerifyMessageAsync(verifier, test.Message);
        Assert.True(expected == arc.Keyword, $"{id}: expected {expected}, got {arc.Keyword} ({arc.Reason})");
    }
}
