using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>
/// Every case of the Mail::DKIM variant of the ValiMail ARC suite (TestData/arc/variant-mail-dkim, see PROVENANCE.md
/// there): the copy fastmail/mail-dkim vendors, an older base than the top-level files. Each case runs; where
/// Milter's answer differs from the variant's expectation the difference is listed in <see cref="Differences"/> with
/// its reason, and the test asserts Milter's answer (so a change of behaviour on those cases shows too).
/// </summary>
public sealed class ArcMailDkimVariantTests
{
    private const string Dir = "variant-mail-dkim/";
    private const string ValidationFile = Dir + ArcTestSuite.ValidationFile;
    private const string SignFile = Dir + ArcTestSuite.SignFile;

    /// <summary>Validation cases where Milter's cv differs from the variant's, with why (the newer top-level suite
    /// agrees with Milter on each).</summary>
    public static readonly IReadOnlyDictionary<string, (string Milter, string Why)> Differences = new Dictionary<string, (string, string)>
    {
        ["ams_fields_a_sha1"] = ("fail", "rsa-sha1 is not an ARC algorithm: RFC 8617 4.1.2 takes RFC 8301's rule (rsa-sha1 MUST NOT be used); the variant predates it"),
        ["as_fields_a_sha1"] = ("fail", "the same for the ARC-Seal (RFC 8617 4.1.3, RFC 8301)"),
        ["ams_fields_c_na"] = ("pass", "an AMS without c= is accepted when it verifies as relaxed/relaxed, as dkimpy and the newer suite do (ArcVerifierContext)"),
    };

    public static TheoryData<string> ValidationCases => ArcTestSuite.Ids(ValidationFile);

    public static TheoryData<string> SignCases => ArcTestSuite.Ids(SignFile);

    [Fact]
    public void The_variant_has_its_170_validation_and_17_signing_tests()
    {
        Assert.Equal(170, ArcTestSuite.Load(ValidationFile).Count);
        Assert.Equal(17, ArcTestSuite.Load(SignFile).Count);
        Assert.All(Differences.Keys, id => Assert.Contains(ArcTestSuite.Load(ValidationFile), c => c.Id == id));
    }

    [Theory]
    [MemberData(nameof(ValidationCases))]
    public async Task Chain_validation_status_is_the_variants_cv_or_the_documented_difference(string id)
    {
        var test = ArcTestSuite.Case(ValidationFile, id);
        // An empty cv: the newest ARC-Seal already says cv=fail (Mail::DKIM's harness reads it as fail).
        var variant = test.Field("cv") is { Length: > 0 } cv ? cv.ToLowerInvariant() : "fail";
        var expected = Differences.TryGetValue(id, out var d) ? d.Milter : variant;
        var verifier = new DkimVerifier(test.Resolver(), timeProvider: new FixedTimeProvider(1_700_000_000));
        var (_, arc) = await ArcVerification.VerifyMessageAsync(verifier, test.Message);
        Assert.True(expected == arc.Keyword, $"{id}: expected {expected} (variant says {variant}), got {arc.Keyword} ({arc.Reason})");
    }

    [Theory]
    [MemberData(nameof(SignCases))]
    public void Sealing_gives_the_variants_expected_set(string id) => ArcSignSuiteTests.AssertSealsAsExpected(ArcTestSuite.Case(SignFile, id));
}
