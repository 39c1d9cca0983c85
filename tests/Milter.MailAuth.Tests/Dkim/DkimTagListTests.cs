using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Dkim;

public class DkimTagListTests
{
    [Fact]
    public void ParsesTagsInOrderWithFoldingWhitespace()
    {
        const string text = "v=1; a=rsa-sha256;\r\n\tc=relaxed/simple ; d = example.com;\r\n h=From : To;\r\n b=abc\r\n def ; ";
        Assert.True(DkimTagList.TryParse(text, out DkimTagList? list, out string? error), error);
        Assert.NotNull(list);
        Assert.Equal(["v", "a", "c", "d", "h", "b"], list.Tags.Select(t => t.Name));
        Assert.Equal("relaxed/simple", list["c"]);
        Assert.Equal("example.com", list["d"]);
        Assert.Equal("From : To", list["h"]);
        Assert.Equal("abc\r\n def", list["b"]); // whitespace inside a value is kept
        Assert.Null(list["x"]);
        DkimTag b = list.Tags[^1];
        Assert.Equal(" b=abc\r\n def ", "" + text[(b.ValueStart - 3)..b.ValueEnd]);
    }

    [Theory]
    [InlineData("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 3)]
    [InlineData("p=", 1)]
    [InlineData("a=1;", 1)]
    [InlineData("  a = 1 ;\t", 1)]
    [InlineData("a_1=x;b=", 2)]
    public void AcceptsValidLists(string text, int count)
    {
        Assert.True(DkimTagList.TryParse(text, out DkimTagList? list, out string? error), error);
        Assert.Equal(count, list!.Count);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("  ", "empty")]
    [InlineData("a=1;;b=2", "invalid tag name")]
    [InlineData("a=1; a=2", "duplicate")]
    [InlineData("1a=1", "invalid tag name")]
    [InlineData("a", "missing '='")]
    [InlineData("a b=1", "missing '='")]
    [InlineData("a=x\u0001y", "invalid character")]
    [InlineData("=1", "invalid tag name")]
    public void RejectsBadSyntaxWithAReason(string text, string reason)
    {
        Assert.False(DkimTagList.TryParse(text, out DkimTagList? list, out string? error));
        Assert.Null(list);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void TagNamesAreCaseSensitive()
    {
        Assert.True(DkimTagList.TryParse("v=1; V=2", out DkimTagList? list, out _));
        Assert.Equal("1", list!["v"]);
        Assert.Equal("2", list["V"]);
    }
}
