using Milter.Configuration;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.TestKit;

namespace Milter.Tests.Keys;

/// <summary>Signing:Rules (issue 15 item 1): ordered From patterns naming keys; Signing:Keys is the same thing in simple form.</summary>
public sealed class SigningRulesTests : IDisposable
{
    private readonly TempDir _dir = new("signing-rules");

    /// <summary>A key file (mode 0600) of the given type, written once per name.</summary>
    private string Key(string name, DkimKeyType type = DkimKeyType.Rsa)
    {
        var path = _dir.File(name + ".private");
        if (File.Exists(path)) return path;
        using var key = DkimPrivateKey.Generate(type, 1024);
        File.WriteAllText(path, key.ExportPkcs8Pem());
        TempDir.SetMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private SigningKeyOptions K(string domain, string selector, DkimKeyType type = DkimKeyType.Rsa)
        => new() { Domain = domain, Selector = selector, KeyFile = Key(selector, type) };

    private static string Signs(KeyStore store, string address)
    {
        var domain = address[(address.IndexOf('@', StringComparison.Ordinal) + 1)..];
        return string.Join(" ", store.SignersFor(address, domain).Select(s => $"{s.Options.Domain}/{s.Options.Selector}/{s.Options.Key.Algorithm}"));
    }

    [Theory]
    [InlineData("*@example.com", "user@example.com", true)]
    [InlineData("*@example.com", "user@sub.example.com", false)]
    [InlineData("*.example.com", "a.b.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("EXAMPLE.com", "example.COM", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("*", "", true)]
    public void Glob_matches_the_whole_text_case_insensitively(string pattern, string text, bool expected)
        => Assert.Equal(expected, FromPattern.Glob(pattern, text));

    [Fact]
    public void Rules_are_tried_in_order_the_first_match_wins_and_continue_adds_later_matches()
    {
        var store = KeyStore.Load(new SigningSection
        {
            Rules =
            [
                new() { From = ["ceo@example.com"], Keys = [K("example.com", "ceo")] },
                new() { From = ["*@example.org"], Keys = [K("example.com", "org")] }, // third-party d=
                new() { From = ["example.com", "*.example.com"], Keys = [K("example.com", "rsa"), K("example.com", "ed", DkimKeyType.Ed25519)], Continue = true },
                new() { From = ["*"], Keys = [K("relay.example", "all")] },
            ],
        }, TimeProvider.System);

        Assert.Equal("example.com/ceo/rsa-sha256", Signs(store, "ceo@example.com"));
        Assert.Equal("example.com/org/rsa-sha256", Signs(store, "anyone@example.org"));
        Assert.Equal("example.com/rsa/rsa-sha256 example.com/ed/ed25519-sha256 relay.example/all/rsa-sha256", Signs(store, "bob@mail.example.com"));
        Assert.Equal("relay.example/all/rsa-sha256", Signs(store, "x@elsewhere.test"));
        Assert.Equal(5, store.Count);
    }

    [Fact]
    public void Signing_Keys_is_the_simple_form_of_rules_with_subdomains_nearest_parent_first()
    {
        var store = KeyStore.Load(new SigningSection
        {
            Keys = [K("example.com", "top"), K("b.example.com", "sub"), K("example.com", "top2", DkimKeyType.Ed25519)],
            SubDomains = true,
        }, TimeProvider.System);

        Assert.Equal("example.com/top/rsa-sha256 example.com/top2/ed25519-sha256", Signs(store, "a@example.com"));
        Assert.Equal("b.example.com/sub/rsa-sha256", Signs(store, "a@x.b.example.com"));
        Assert.Equal("example.com/top/rsa-sha256 example.com/top2/ed25519-sha256", Signs(store, "a@x.example.com"));
        Assert.Equal("", Signs(store, "a@example.org"));
        Assert.Equal(["example.com", "b.example.com", "*.b.example.com", "*.example.com"], store.Rules.Select(r => r.From.Single()));
    }

    [Fact]
    public void A_percent_domain_signs_with_the_from_domain_and_a_percent_key_file_is_read_for_that_domain()
    {
        Key("one.example");
        var store = KeyStore.Load(new SigningSection
        {
            Rules = [new() { From = ["*"], Keys = [new() { Domain = "%", Selector = "sel", KeyFile = _dir.File("%.private") }] }],
        }, TimeProvider.System);

        Assert.Equal("one.example/sel/rsa-sha256", Signs(store, "u@one.example"));
        var error = Assert.Throws<ConfigException>(() => store.SignersFor("u@two.example", "two.example"));
        Assert.Contains("two.example.private does not exist", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "Signing": { "Rules": [ { "From": [ "*@example.com" ] } ] } }""", "Signing:Rules:0:Keys")]
    [InlineData("""{ "Signing": { "Rules": [ { "Keys": [ { "Domain": "a.example", "Selector": "s", "KeyFile": "/k" } ] } ] } }""", "Signing:Rules:0:From")]
    [InlineData("""{ "Signing": { "Rules": [ { "From": [ "example.com" ], "MatchAddress": true, "Keys": [ { "Domain": "a.example", "Selector": "s", "KeyFile": "/k" } ] } ] } }""", "Signing:Rules:0:From:0")]
    [InlineData("""{ "Signing": { "Rules": [ { "From": [ "*" ], "Keys": [ { "Domain": "a.example", "KeyFile": "/k" } ] } ] } }""", "Signing:Rules:0:Keys:0:Selector")]
    [InlineData("""{ "Signing": { "Keys": [ { "Domain": "%", "Selector": "s", "KeyFile": "/k" } ] } }""", "Signing:Keys:0:Domain")]
    public void A_bad_rule_is_one_line_naming_its_key(string json, string key)
    {
        var path = _dir.File("bad.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal(key, error.Key);
    }

    [Fact]
    public void Rules_bind_from_json()
    {
        var path = _dir.File("rules.json");
        File.WriteAllText(path, """{ "Signing": { "Rules": [ { "From": [ "*@example.org" ], "Continue": true, "Keys": [ { "Domain": "example.com", "Selector": "s", "KeyFile": "/k" } ] } ] } }""");
        var rule = Assert.Single(ConfigLoader.Load(path, environment: false).Signing.Rules!);
        Assert.Equal(["*@example.org"], rule.From!);
        Assert.True(rule.Continue);
        Assert.Equal("example.com", Assert.Single(rule.Keys!).Domain);
    }

    [Theory]
    [InlineData("10.1.2.3", null, false)]   // !10.1.2.3 is more precise than 10.0.0.0/8
    [InlineData("10.1.2.4", null, true)]
    [InlineData("192.0.2.9", "mail.example.com", true)]
    [InlineData("192.0.2.9", "bad.example.com", false)]
    [InlineData("192.0.2.9", "[192.0.2.9]", false)]
    [InlineData("198.51.100.7", "x.y.example.net", true)]
    [InlineData("::ffff:10.9.9.9", null, true)]
    public void Host_lists_take_names_domains_networks_and_negations_the_most_precise_entry_winning(string ip, string? name, bool expected)
    {
        var list = new NetworkList(["10.0.0.0/8", "!10.1.2.3", ".example.com", "!bad.example.com", ".example.net", "[198.51.100.0]/24"]);
        Assert.Equal(expected, list.Contains(System.Net.IPAddress.Parse(ip), name));
    }

    public void Dispose() => _dir.Dispose();
}
