namespace Milter.MailAuth.Tests.Dkim;

/// <summary>Runs dkimpy once over every interop case (one python process for the whole class).</summary>
public sealed class DkimpyResultsFixture
{
    private readonly Lazy<IReadOnlyList<(bool Ok, string Error)>> _results =
        new(() => Dkimpy.Verify(InteropCases.All.Value));

    public (bool Ok, string Error) this[int index] => _results.Value[index];
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
    public void Dkimpy(int index, string name)
    {
        InteropCase c = InteropCases.All.Value[index];
        Assert.Equal(name, c.Name);
        (bool ok, string error) = dkimpy[index];
        Assert.True(c.ExpectPass == ok, $"{name}: dkimpy says {(ok ? "pass" : "fail")} {error}");
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
