using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.Dkim;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>Every signing test of the ValiMail ARC suite: the AAR, AMS and AS made by <see cref="ArcSealer"/> equal the
/// expected ones as the suite's harness compares them (whitespace removed, tags as sets; b= must match exactly).</summary>
public sealed class ArcSignSuiteTests
{
    public static TheoryData<string> Cases => ArcTestSuite.Ids(ArcTestSuite.SignFile);

    [Fact]
    public void The_suite_has_its_17_signing_tests() => Assert.Equal(17, ArcTestSuite.Load(ArcTestSuite.SignFile).Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Sealing_gives_the_expected_set(string id) => AssertSealsAsExpected(ArcTestSuite.Case(ArcTestSuite.SignFile, id));

    internal static void AssertSealsAsExpected(ArcSuiteCase test)
    {
        var parsed = RawMessageParser.Parse(test.Message);
        using var key = DkimPrivateKey.Load(test.Scenario["privatekey"]).Key!;
        var sealer = new ArcSealer(new ArcSealerOptions
        {
            Domain = test.Scenario["domain"],
            Selector = test.Scenario["sel"],
            Key = key,
            SignedHeaders = test.Field("sig-headers").Split(':'),
            TimeProvider = new FixedTimeProvider(long.Parse(test.Field("t"), System.Globalization.CultureInfo.InvariantCulture)),
        });
        using var body = new DkimBodyHasher(DkimCanonicalization.Relaxed);
        body.Append(parsed.Body.Span);
        var headers = parsed.Headers.ToList();
        var produced = SuiteHarness.Seal(sealer, headers, body.Complete(), test.Field("srv-id"));

        Assert.Equal(Tags(test.Field("AAR")), Tags(produced.Aar));
        Assert.Equal(Tags(test.Field("AMS")), Tags(produced.Ams));
        Assert.Equal(Tags(test.Field("AS")), Tags(produced.As));
    }

    /// <summary>testarc.py's comparison: all whitespace removed, split on ";", compared as a set.</summary>
    private static SortedSet<string> Tags(string? value)
    {
        var compact = new string((value ?? "").Where(c => !char.IsWhiteSpace(c)).ToArray());
        return compact.Length == 0 ? [] : new SortedSet<string>(compact.Split(';'), StringComparer.Ordinal);
    }
}

/// <summary>What the suite's reference signer (dkimpy's arc_sign, used by testarc.py) does around the seal: the
/// Authentication-Results of the authserv-id are consolidated into the AAR payload (UPSTREAM-README.md, "AR
/// Consolidation"), the cv is the arc= result among them, and nothing is added without such results or when a
/// chain exists but no arc= result says how it validated.</summary>
internal static partial class SuiteHarness
{
    [System.Text.RegularExpressions.GeneratedRegex(@"\([^()]*\)")]
    private static partial System.Text.RegularExpressions.Regex Comments();

    public static (string? Aar, string? Ams, string? As) Seal(ArcSealer sealer, List<RawHeaderField> headers, byte[] bodyHash, string srvId)
    {
        var results = new List<string>();
        foreach (var h in headers.Where(h => h.NameString.Equals("Authentication-Results", StringComparison.OrdinalIgnoreCase)))
        {
            var value = Encoding.UTF8.GetString(h.Value.Span).Trim();
            var semi = value.IndexOf(';');
            // The authserv-id may carry comments, as CFWS allows (RFC 8601 2.2): the Mail::DKIM variant has one.
            if (semi < 0 || Comments().Replace(value[..semi], "").Trim() != srvId) continue;
            results.AddRange(value[(semi + 1)..].Split(';').Select(r => r.Trim()));
        }
        if (results.Count == 0) return (null, null, null);
        var arc = results.Where(r => r.StartsWith("arc=", StringComparison.OrdinalIgnoreCase)).ToList();
        var cv = arc.Count switch
        {
            0 => ArcResult.None,
            1 => arc[0][4..].Split(' ')[0].ToLowerInvariant() switch { "pass" => ArcResult.Pass, "none" => ArcResult.None, _ => ArcResult.Fail },
            _ => ArcResult.Fail,
        };
        var hasChain = headers.Any(h => ArcFieldNames.KindOf(h.NameString) is not null);
        if (hasChain && cv == ArcResult.None) return (null, null, null);
        var result = sealer.Seal(headers, bodyHash, cv, srvId + "; " + string.Join("; ", results));
        Assert.Null(result.Error);
        return result.Sealed ? (result.Headers[0].Value, result.Headers[1].Value, result.Headers[2].Value) : (null, null, null);
    }
}
