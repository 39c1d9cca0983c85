using Milter.Configuration;
using Milter.Keys;

namespace Milter.Tests.Keys;

/// <summary>KeyStore.Load checks what it parses itself, also when the config validator did not run first
/// (issue 21 item 7, CA1806: the canonicalization parse result was ignored and fell back to simple/simple).</summary>
public sealed class KeyStoreLoadTests
{
    [Theory]
    [InlineData("relaxed/bogus")]
    [InlineData("")]
    public void An_unparsable_canonicalization_is_refused_not_replaced_by_simple(string canonicalization)
    {
        var signing = new SigningSection { Canonicalization = canonicalization };
        var error = Assert.Throws<ConfigException>(() => KeyStore.Load(signing, TimeProvider.System));
        Assert.Equal("Signing:Canonicalization", error.Key);
    }

    [Fact]
    public void A_valid_canonicalization_with_no_keys_loads_an_empty_store()
    {
        var signing = new SigningSection { Canonicalization = "simple/relaxed" };
        Assert.Equal(0, KeyStore.Load(signing, TimeProvider.System).Count);
    }
}
