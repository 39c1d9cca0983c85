using Milter.TestKit.Peers;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>Runs dkimpy once over every interop case (one python process for the whole class), each case
/// with its own key record in memory.</summary>
public sealed class DkimpyResultsFixture
{
    private readonly Lazy<Task<IReadOnlyList<DkimPyVerification>>> _results = new(() => DkimPy.VerifyBatchAsync(
        [.. InteropCases.All.Value.Select(c => (c.Message,
            (IReadOnlyDictionary<string, string>)new Dictionary<string, string> { [$"{c.Selector}._domainkey.{c.Domain}"] = c.Record }))]));

    public async Task<DkimPyVerification> ResultAsync(int index) => (await _results.Value)[index];
}

/// <summary>Our signatures verify with dkimpy and MimeKit; one changed body byte or signed header breaks them.</summary>
public class DkimInteropTests(DkimpyResultsFixture dkimpy) : IClassFixture<DkimpyResultsFixture>
{
    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        IReadOnlyList<InteropCase> all = InteropCases.All.Value;
        for (int i = 0; i < all.Count; i++)
        {
            data.Add(i, all[i].Name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Dkimpy(int index, string name)
    {
        InteropCase c = InteropCases.All.Value[index];
        Assert.Equal(name, c.Name);
        DkimPyVerification verdict = await dkimpy.ResultAsync(index);
        Assert.True(verdict.Signatures.Count == 1, $"{name}: dkimpy found {verdict.Signatures.Count} signatures\n{verdict.Output}");
        bool ok = verdict.Signatures[0].Pass;
        Assert.True(c.ExpectPass == ok, $"{name}: dkimpy says {(ok ? "pass" : "fail")}\n{verdict.Output}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MimeKit(int index, string name)
    {
        InteropCase c = InteropCases.All.Value[index];
        Assert.Equal(name, c.Name);
        (bool ok, string error) = MimeKitVerifier.Verify(c);
        Assert.True(c.ExpectPass == ok, $"{name}: MimeKit says {(ok ? "pass" : "fail")} {error}");
    }
}
