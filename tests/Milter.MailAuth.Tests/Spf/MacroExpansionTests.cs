using System.Net;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Spf;

/// <summary>RFC 7208 7.4: the macro examples, with sender strong-bad@email.example.com and IP 192.0.2.3 / 2001:db8::cb01.</summary>
public sealed class MacroExpansionTests
{
    private static MacroValues Values(string ip)
    {
        var address = IPAddress.Parse(ip);
        return new MacroValues("strong-bad@email.example.com", "strong-bad", "email.example.com", "email.example.com",
            DnsNames.DottedAddress(address), address.ToString(), address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6,
            "mx.example.org", "receiver.example.net", 1_234_567_890, null);
    }

    [Theory]
    [InlineData("%{s}", "strong-bad@email.example.com")]
    [InlineData("%{o}", "email.example.com")]
    [InlineData("%{d}", "email.example.com")]
    [InlineData("%{d4}", "email.example.com")]
    [InlineData("%{d3}", "email.example.com")]
    [InlineData("%{d2}", "example.com")]
    [InlineData("%{d1}", "com")]
    [InlineData("%{dr}", "com.example.email")]
    [InlineData("%{d2r}", "example.email")]
    [InlineData("%{l}", "strong-bad")]
    [InlineData("%{l-}", "strong.bad")]
    [InlineData("%{lr}", "strong-bad")]
    [InlineData("%{lr-}", "bad.strong")]
    [InlineData("%{l1r-}", "strong")]
    [InlineData("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com")]
    [InlineData("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com")]
    [InlineData("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com")]
    [InlineData("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com")]
    [InlineData("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net")]
    [InlineData("%{h}", "mx.example.org")]
    [InlineData("%{p}", "unknown")]
    [InlineData("%%%_%-", "% %20")]
    [InlineData("%{S}", "strong-bad%40email.example.com")]
    public void Rfc7208_section_7_4_ipv4(string macro, string expected)
    {
        Assert.Null(MacroString.TryParse(macro, MacroScope.Domain, out var parsed));
        Assert.Equal(expected, parsed!.Expand(Values("192.0.2.3")));
    }

    [Fact]
    public void Rfc7208_section_7_4_ipv6()
    {
        Assert.Null(MacroString.TryParse("%{ir}.%{v}._spf.%{d2}", MacroScope.Domain, out var parsed));
        Assert.Equal("1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com",
            parsed!.Expand(Values("2001:db8::cb01")));
    }

    [Theory]
    [InlineData("%{c} via %{r} at %{t}", "192.0.2.3 via receiver.example.net at 1234567890")]
    [InlineData("%{C}", "192.0.2.3")]
    public void Explanation_only_macros_expand_in_explanations(string text, string expected)
    {
        Assert.Null(MacroString.TryParse(text, MacroScope.Explanation, out var parsed));
        Assert.Equal(expected, parsed!.Expand(Values("192.0.2.3")));
    }

    [Theory]
    [InlineData("%{c}.example.com")]
    [InlineData("%{r}.example.com")]
    [InlineData("%{t}.example.com")]
    [InlineData("%{x}.example.com")]
    [InlineData("%{d0}.example.com")]
    [InlineData("%{d2r!}.example.com")]
    [InlineData("%{d.example.com")]
    [InlineData("foo%.example.com")]
    [InlineData("example.com%")]
    [InlineData("a b.example.com")]
    public void Invalid_domain_macros_are_syntax_errors(string spec) =>
        Assert.NotNull(MacroString.TryParseDomainSpec(spec, out _));

    [Theory]
    [InlineData("example.com")]
    [InlineData("example.com.")]
    [InlineData("%{d}")]
    [InlineData("_spf.%{d2}")]
    [InlineData("foo.xn--zckzah")]
    [InlineData("foo:bar/baz.example.com")]
    public void Valid_domain_specs(string spec) => Assert.Null(MacroString.TryParseDomainSpec(spec, out _));

    [Fact]
    public void Domain_longer_than_253_loses_labels_on_the_left()
    {
        var label = new string('a', 60);
        var name = string.Join('.', label, label, label, label, label, "example.com"); // 5*61 + 11 = 316 -> 255 -> 194
        var prepared = SpfDomain.PrepareTarget(name + ".");
        Assert.True(prepared.Length <= 253);
        Assert.Equal(string.Join('.', label, label, label, "example.com"), prepared);
    }
}
