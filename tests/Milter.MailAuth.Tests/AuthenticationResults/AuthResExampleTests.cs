using Milter.MailAuth.AuthenticationResults;
using YamlDotNet.RepresentationModel;

namespace Milter.MailAuth.Tests.AuthenticationResults;

/// <summary>Every example of TestData/authres/authres-examples.yaml, one test case each.</summary>
public class AuthResExampleTests
{
    /// <summary>
    /// Real-world fields MimeKit's parser refuses; for them only the authserv-id is checked (through the
    /// tolerant fallback), since the lenient Perl parser's reading of the clauses is not ours to copy.
    /// yahoo: "from=..." before the first ";" (no ptype, not a version); fastmail: x-return-mx carries
    /// "smtp_is_org_domain=yes" and x-tls "version=TLSv1.2", properties without a ptype.
    /// </summary>
    private static readonly HashSet<string> RefusedRealWorld = ["yahoo", "fastmail"];

    public static TheoryData<string> RealWorldProviders()
    {
        var data = new TheoryData<string>();
        foreach (YamlMappingNode node in AuthResExamples.Sequence("real_world_headers"))
            data.Add(node.Scalar("provider")!);
        return data;
    }

    [Theory]
    [MemberData(nameof(RealWorldProviders))]
    public void RealWorldHeader(string provider)
    {
        var node = AuthResExamples.Sequence("real_world_headers").Cast<YamlMappingNode>().Single(n => n.Scalar("provider") == provider);
        var headers = node.Scalar("header") is { } single
            ? [single]
            : ((YamlSequenceNode)node.Child("headers")!).Select(h => ((YamlScalarNode)h).Value!).ToList();
        var values = headers.Select(AuthResExamples.StripName).ToList();

        if (node.Scalar("authserv_id") is { } expectedId)
        {
            Assert.True(AuthenticationResultsParser.TryGetAuthservId(values[0], out var id));
            Assert.Equal(expectedId, id);
        }

        var results = new List<AuthMethodResult>();
        foreach (var value in values)
        {
            bool parsed = AuthenticationResultsParser.TryParse(value, out var authres);
            Assert.Equal(!RefusedRealWorld.Contains(provider), parsed);
            if (parsed)
                results.AddRange(authres!.Results);
        }
        if (RefusedRealWorld.Contains(provider) || node.Child("checks") is not YamlSequenceNode checks)
            return;

        foreach (YamlMappingNode check in checks)
        {
            var filters = ((YamlSequenceNode)check.Child("search")!).Cast<YamlMappingNode>()
                .Select(f => f.Children.Single())
                .Select(kv => (Key: ((YamlScalarNode)kv.Key).Value!, Value: ((YamlScalarNode)kv.Value).Value!))
                .ToList();
            int count = results.Count(r => filters.All(f => Matches(r, f.Key, f.Value)));
            Assert.True(int.Parse(check.Scalar("count")!) == count, $"{provider}: search {string.Join(", ", filters)} matched {count}");
        }
    }

    private static bool Matches(AuthMethodResult r, string key, string value)
    {
        int dot = key.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
            return string.Equals(r.Method, key, StringComparison.OrdinalIgnoreCase) && string.Equals(r.Result, value, StringComparison.OrdinalIgnoreCase);
        return r.Properties!.Any(p => p.Type == key[..dot] && p.Name == key[(dot + 1)..] && p.Value == value);
    }

    [Fact]
    public void OutlookOriginal_HasNoLeadingAuthservId_ButClaimsOutlookPerClause()
    {
        var node = AuthResExamples.Sequence("real_world_headers").Cast<YamlMappingNode>().Single(n => n.Scalar("provider") == "outlook-original");
        string value = AuthResExamples.StripName(node.Scalar("header")!);

        Assert.False(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Null(id);
        Assert.True(AuthenticationResultsParser.TryParse(value, out var parsed));
        Assert.Null(parsed!.AuthservId);
        Assert.Contains("outlook.com", parsed.MethodAuthservIds);
        // A reader honouring per-clause ids would take these results as outlook.com's: strip it as ours.
        Assert.True(AuthenticationResultsParser.ClaimsAuthservId(value, "OUTLOOK.COM"));
        Assert.False(AuthenticationResultsParser.ClaimsAuthservId(value, "mx.example.net"));
    }

    [Fact]
    public void Rfc8601AppendixB7_CommentHeavy()
    {
        var node = AuthResExamples.Mapping("rfc8601_appendix_b7_comment_heavy");
        string value = AuthResExamples.StripName(node.Scalar("header")!);

        Assert.True(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Equal(node.Scalar("authserv_id"), id);
        Assert.True(AuthenticationResultsParser.TryParse(value, out var parsed));
        Assert.Equal(int.Parse(node.Scalar("version")!), parsed!.Version);

        var expected = (YamlSequenceNode)((YamlSequenceNode)node.Child("results")!)[0];
        var r = Assert.Single(parsed.Results);
        Assert.Equal(((YamlScalarNode)expected[0]).Value, r.Method);
        Assert.Equal(((YamlScalarNode)expected[1]).Value, r.Result);
        var property = ((YamlMappingNode)expected[2]).Children.Single();
        var p = Assert.Single(r.Properties!);
        Assert.Equal(((YamlScalarNode)property.Key).Value, $"{p.Type}.{p.Name}");
        Assert.Equal(((YamlScalarNode)property.Value).Value, p.Value);
        var version = ((YamlMappingNode)expected[3]).Children.Single();
        Assert.Equal(int.Parse(((YamlScalarNode)version.Value).Value!), r.MethodVersion);
    }

    public static TheoryData<string> TolerantShouldParse() => Strings("should_parse");

    public static TheoryData<string> TolerantShouldReject() => Strings("should_reject");

    private static TheoryData<string> Strings(string key)
    {
        var data = new TheoryData<string>();
        foreach (YamlScalarNode s in (YamlSequenceNode)AuthResExamples.Mapping("parser_tolerance").Child(key)!)
            data.Add(s.Value!);
        return data;
    }

    /// <summary>
    /// The lenient Perl parser accepts these; whatever a parser makes of the clauses, the field names
    /// test.example.com as its authserv-id, and a forgery written this way must still be found.
    /// </summary>
    [Theory]
    [MemberData(nameof(TolerantShouldParse))]
    public void ParserTolerance_ShouldParse_AuthservIdFound(string value)
    {
        Assert.True(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Equal("test.example.com", id);
        Assert.True(AuthenticationResultsParser.ClaimsAuthservId(value, "TEST.example.com"));
    }

    /// <summary>Malformed clauses: the parse is refused, but the authserv-id still marks a forgery.</summary>
    [Theory]
    [MemberData(nameof(TolerantShouldReject))]
    public void ParserTolerance_ShouldReject_RefusedButAuthservIdStillFound(string value)
    {
        Assert.False(AuthenticationResultsParser.TryParse(value, out var parsed));
        Assert.Null(parsed);
        Assert.True(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Equal("test.example.com", id);
        Assert.True(AuthenticationResultsParser.ClaimsAuthservId(value, "test.example.com"));
    }

    public static TheoryData<int> MiscIndices() => Indices("mail_authenticationresults_misc");

    public static TheoryData<int> GoMsgauthIndices() => Indices("go_msgauth_parse");

    private static TheoryData<int> Indices(string key)
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < AuthResExamples.Sequence(key).Children.Count; i++)
            data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(MiscIndices))]
    public void MailAuthenticationResultsMisc(int index)
    {
        var node = (YamlMappingNode)AuthResExamples.Sequence("mail_authenticationresults_misc")[index];
        string value = node.Scalar("header")!;
        string expectedId = node.Scalar("authserv_id") ?? FirstWordOfAsString(node);

        Assert.True(AuthenticationResultsParser.TryGetAuthservId(value, out var id));
        Assert.Equal(expectedId, id);

        if (node.Scalar("version") is { } version)
        {
            Assert.True(AuthenticationResultsParser.TryParse(value, out var parsed));
            Assert.Equal(int.Parse(version), parsed!.Version);
            Assert.Empty(parsed.Results);
        }
        if (node.Scalar("property_value") is not null)
        {
            // "address=..." has no ptype: not a propspec (RFC 8601 section 2.2), so MimeKit refuses it.
            Assert.False(AuthenticationResultsParser.TryParse(value, out _));
        }
    }

    /// <summary>The authserv-id of examples that give only the Perl parser's re-serialisation, or the first word of the value.</summary>
    private static string FirstWordOfAsString(YamlMappingNode node)
    {
        string text = node.Scalar("as_string") ?? node.Scalar("header")!;
        return text.Split([' ', ';', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
    }

    [Theory]
    [MemberData(nameof(GoMsgauthIndices))]
    public void GoMsgauthParse(int index)
    {
        var node = (YamlMappingNode)AuthResExamples.Sequence("go_msgauth_parse")[index];
        string value = node.Scalar("value")!;
        string expectedId = node.Scalar("authserv_id")!;
        var expected = (YamlSequenceNode)node.Child("results")!;

        bool found = AuthenticationResultsParser.TryGetAuthservId(value, out var id);
        if (expectedId.Length == 0)
        {
            Assert.False(found);
            Assert.False(AuthenticationResultsParser.TryParse(value, out _));
            return;
        }
        Assert.True(found);
        Assert.Equal(expectedId, id);

        Assert.True(AuthenticationResultsParser.TryParse(value, out var parsed));
        Assert.Equal(expected.Children.Count, parsed!.Results.Count);
        for (int i = 0; i < expected.Children.Count; i++)
        {
            var e = (YamlSequenceNode)expected[i];
            var r = parsed.Results[i];
            Assert.Equal(((YamlScalarNode)e[0]).Value, r.Method);
            Assert.Equal(((YamlScalarNode)e[1]).Value, r.Result);
            var props = ((YamlMappingNode)e[2]).Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!);
            Assert.Equal(props.GetValueOrDefault("reason"), r.Reason);
            props.Remove("reason");
            var actual = r.Properties!.ToDictionary(p => $"{p.Type}.{p.Name}", p => p.Value);
            Assert.Equal(props, actual);
        }
    }
}
