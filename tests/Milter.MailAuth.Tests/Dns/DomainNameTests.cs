using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Tests.Dns;

/// <summary>The shared domain-name validator and its Punycode (RFC 3492).</summary>
public class DomainNameTests
{
    // RFC 3492 7.1 samples (A), (B), (L) and the usual German example.
    [Theory]
    [InlineData("\u0644\u064A\u0647\u0645\u0627\u0628\u062A\u0643\u0644\u0645\u0648\u0634\u0639\u0631\u0628\u064A\u061F", "egbpdaj6bu4bxfgehfvwxn")]
    [InlineData("\u4ED6\u4EEC\u4E3A\u4EC0\u4E48\u4E0D\u8BF4\u4E2D\u6587", "ihqwcrb4cv8a8dqg056pqjye")]
    [InlineData("3\u5E74B\u7D44\u91D1\u516B\u5148\u751F", "3B-ww4c5e180e575a65lsy2b")]
    [InlineData("bücher", "bcher-kva")]
    [InlineData("münchen", "mnchen-3ya")]
    [InlineData("\U0001F4A9", "ls8h")]
    public void Punycode_encodes_and_decodes_the_rfc_samples(string unicode, string punycode)
    {
        Assert.Equal(punycode, Punycode.Encode(unicode));
        Assert.True(Punycode.TryDecode(punycode, out var decoded));
        Assert.Equal(unicode, decoded);
    }

    [Theory]
    [InlineData("zz")] // runs out of digits
    [InlineData("-")] // a delimiter with nothing after it is no digit
    [InlineData("99999999999")] // overflow
    [InlineData("ü-kva")] // non-basic code point before the delimiter
    [InlineData("bcher-kv!")]
    public void Punycode_refuses_malformed_input(string input)
    {
        Assert.False(Punycode.TryDecode(input, out _));
    }

    [Theory]
    [InlineData("xn--bcher-kva", true)]
    [InlineData("XN--Bcher-KVA", true)]
    [InlineData("xn--mnchen-3ya", true)]
    [InlineData("xn--ihqwcrb4cv8a8dqg056pqjye", true)]
    [InlineData("xn--zz", false)]
    [InlineData("xn--", false)]
    [InlineData("xn--abc-", false)] // decodes to "abc": all ASCII
    [InlineData("xn--ab---3ra", false)] // U-label "ab--ü": hyphens in positions 3 and 4
    [InlineData("xn--bcher-2pa", false)] // U-label "bÜcher": upper case is never valid
    [InlineData("xn--a-wbb", false)] // U-label "\u0301a": leading combining mark (RFC 5891 4.2.3.2)
    [InlineData("xn--bcher-kv!", false)]
    public void A_label_validity(string label, bool valid)
    {
        Assert.Equal(valid, DomainName.IsValidALabel(label));
    }

    [Theory]
    [InlineData("example.org", DomainNameKind.HostName, true)]
    [InlineData("-a.example.org", DomainNameKind.HostName, false)]
    [InlineData("a-.example.org", DomainNameKind.HostName, false)]
    [InlineData("_dmarc.example.org", DomainNameKind.HostName, false)]
    [InlineData("_dmarc.example.org", DomainNameKind.Domain, true)]
    [InlineData("a+b.example.org", DomainNameKind.Domain, false)]
    [InlineData("a+b.example.org", DomainNameKind.Query, true)]
    [InlineData("a b.example.org", DomainNameKind.Query, true)] // RFC 7208 suite macro-mania-in-domain
    [InlineData("a\tb.example.org", DomainNameKind.Query, false)]
    [InlineData("a..example.org", DomainNameKind.Query, false)]
    [InlineData("example.org.", DomainNameKind.Query, false)]
    [InlineData("xn--zz.example.org", DomainNameKind.Query, false)]
    [InlineData("bücher.example", DomainNameKind.Query, false)]
    [InlineData("ab--cd.example.org", DomainNameKind.HostName, true)]
    public void Names_by_kind(string name, DomainNameKind kind, bool valid)
    {
        Assert.Equal(valid, DomainName.IsValid(name, kind));
    }

    [Fact]
    public void Lengths()
    {
        var label = new string('a', 63);
        Assert.True(DomainName.IsValid($"{label}.{label}.{label}.{new string('a', 61)}", DomainNameKind.HostName)); // 253
        Assert.False(DomainName.IsValid($"{label}.{label}.{label}.{new string('a', 62)}", DomainNameKind.HostName)); // 254
        Assert.False(DomainName.IsValid(new string('a', 64) + ".example", DomainNameKind.Query));
        Assert.False(DomainName.IsValid("", DomainNameKind.Query));
    }

    [Theory]
    [InlineData("Bücher.Example", "xn--bcher-kva.example")]
    [InlineData("ÄÖÜ.example", "xn--4ca0bs.example")]
    [InlineData("plain.EXAMPLE", "plain.example")]
    public void ToALabels_lower_cases_and_encodes_with_our_punycode(string name, string expected)
    {
        Assert.Equal(expected, DnsNames.ToALabels(name));
    }
}
