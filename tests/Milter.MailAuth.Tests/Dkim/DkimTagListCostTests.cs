using Milter.MailAuth.Dkim;
using Xunit.Abstractions;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>What parsing a DKIM-Signature's tag list allocates (issue 16: it runs for every verified message). Counted on
/// the test's own thread, not timed.</summary>
public sealed class DkimTagListCostTests(ITestOutputHelper output)
{
    /// <summary>A DKIM-Signature value as Milter writes it for RSA-2048 (12 tags, folded).</summary>
    private const string Signature = " v=1; a=rsa-sha256; c=relaxed/relaxed; d=lab.example; s=bench; t=1767225600;\r\n"
        + " h=from:to:subject:date:message-id:mime-version:content-type:from;\r\n"
        + " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; i=@lab.example; l=2048; q=dns/txt;\r\n"
        + " b=" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==";

    /// <summary>The bound: 2,424 bytes before the cut of issue 16 (a string per tag name, the tag list grown from 4 to 8
    /// to 16 entries), 1,696 after (the values, the list sized once, the result's array).</summary>
    private const long MaxBytes = 1_900;

    [Fact]
    public void Parsing_a_signature_tag_list_allocates_a_bounded_number_of_bytes()
    {
        for (var i = 0; i < 100; i++) Assert.True(DkimTagList.TryParse(Signature, out _, out _)); // JIT, statics
        var before = GC.GetAllocatedBytesForCurrentThread();
        const int N = 1000;
        for (var i = 0; i < N; i++) DkimTagList.TryParse(Signature, out _, out _);
        var bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / N;
        output.WriteLine($"allocated per parse: {bytes} bytes");
        Assert.True(DkimTagList.TryParse(Signature, out var list, out _));
        Assert.Equal(12, list!.Count);
        Assert.Equal("lab.example", list["d"]);
        Assert.True(bytes <= MaxBytes, $"{bytes} bytes allocated per parse; at most {MaxBytes} expected");
    }

    /// <summary>Past the cap: a hostile tag list of 10,000 tags is refused at the 65th, and the list is sized to the cap,
    /// not to the count of ';' (10,001 entries would be about 320 KB for one header).</summary>
    [Fact]
    public void A_tag_list_past_the_tag_cap_is_refused_and_its_list_is_sized_to_the_cap()
    {
        string hostile = string.Join("; ", Enumerable.Range(0, 10_000).Select(i => $"t{i}=v"));
        Assert.False(DkimTagList.TryParse(hostile, out _, out _)); // JIT, statics
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(DkimTagList.TryParse(hostile, out var list, out var error));
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"allocated by the refused parse: {bytes} bytes");
        Assert.Null(list);
        Assert.Equal($"more than {DkimTagList.MaxTags} tags", error);
        Assert.True(bytes <= 32 * 1024, $"{bytes} bytes allocated refusing a 10,000-tag list; at most 32 KB expected");
    }
}
