using Milter.Configuration;

namespace Milter.Tests.Configuration;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void EmbeddedDefault_ListensOnLoopback8891_AndSignsNothing()
    {
        var o = ConfigLoader.Load(null, environment: false);
        Assert.Equal(["inet:8891@127.0.0.1"], o.Listen!);
        Assert.Empty(o.Signing.Keys!);
        Assert.Equal("relaxed/relaxed", o.Signing.Canonicalization);
        Assert.Equal(["From"], o.Signing.OversignHeaders!);
        Assert.Equal(5, o.Verification.MaxSignatures);
        Assert.Equal("reject", o.Verification.HeaderLimitAction);
        Assert.False(string.IsNullOrEmpty(o.AuthservId));
    }

    [Fact]
    public void ConfigFile_ArraysReplaceDefaults_NotMergeByIndex()
    {
        var path = Write("""{ "Listen": [ "unix:/tmp/x.sock" ], "Signing": { "InternalHosts": [ "10.0.0.0/8" ] }, "AuthservId": "mx.example.net" }""");
        var o = ConfigLoader.Load(path, environment: false);
        Assert.Equal(["unix:/tmp/x.sock"], o.Listen!);
        Assert.Equal(["10.0.0.0/8"], o.Signing.InternalHosts!);
        Assert.Equal("mx.example.net", o.AuthservId);
    }

    [Fact]
    public void CommandLineListenAndDns_Override()
    {
        var o = ConfigLoader.Load(null, ["inet:9999@127.0.0.1", "unix:/run/m.sock"], "127.0.0.1:5353,[::1]:53", environment: false);
        Assert.Equal(["inet:9999@127.0.0.1", "unix:/run/m.sock"], o.Listen!);
        Assert.Equal(["127.0.0.1:5353", "[::1]:53"], o.Dns.Servers!);
    }

    [Theory]
    [InlineData("""{ "Server": { "MaxConnections": "lots" } }""", "Server:MaxConnections", "lots")]
    [InlineData("""{ "Server": { "MaxConnections": 0 } }""", "Server:MaxConnections", "0")]
    [InlineData("""{ "Listen": [ "tcp:25" ] }""", "Listen:0", "tcp:25")]
    [InlineData("""{ "Signing": { "InternalHosts": [ "10.0.0.0/99" ] } }""", "Signing:InternalHosts:0", "10.0.0.0/99")]
    [InlineData("""{ "Signing": { "Canonicalization": "loose/relaxed" } }""", "Signing:Canonicalization", "loose/relaxed")]
    [InlineData("""{ "Dns": { "Servers": [ "dns.example" ] } }""", "Dns:Servers:0", "dns.example")]
    [InlineData("""{ "AuthservId": "mx example" }""", "AuthservId", "mx example")]
    [InlineData("""{ "Server": { "UnixSocketMode": "rw-rw----" } }""", "Server:UnixSocketMode", "rw-rw----")]
    [InlineData("""{ "Signing": { "Keys": [ { "Domain": "example.com", "Selector": "s1" } ] } }""", "Signing:Keys:0:KeyFile", "")]
    [InlineData("""{ "LogLevel": "Chatty" }""", "LogLevel", "Chatty")]
    [InlineData("""{ "Verification": { "HeaderLimitAction": "continue" } }""", "Verification:HeaderLimitAction", "continue")]
    // Issue 13 defect 9: only dotted quads and RFC 4291 text, never inet_aton forms (1.2.3 = 1.2.0.3, 0x7f.1 = 127.0.0.1).
    [InlineData("""{ "Signing": { "InternalHosts": [ "10.1.2" ] } }""", "Signing:InternalHosts:0", "10.1.2")]
    [InlineData("""{ "Signing": { "InternalHosts": [ "10.1/16" ] } }""", "Signing:InternalHosts:0", "10.1/16")]
    [InlineData("""{ "Signing": { "InternalHosts": [ "0x7f.1" ] } }""", "Signing:InternalHosts:0", "0x7f.1")]
    [InlineData("""{ "Signing": { "InternalHosts": [ "2130706433" ] } }""", "Signing:InternalHosts:0", "2130706433")]
    [InlineData("""{ "Signing": { "InternalHosts": [ "010.0.0.1" ] } }""", "Signing:InternalHosts:0", "010.0.0.1")]
    [InlineData("""{ "Signing": { "InternalHosts": [ "fe80::1%eth0" ] } }""", "Signing:InternalHosts:0", "fe80::1%eth0")]
    [InlineData("""{ "Dns": { "Servers": [ "127.1" ] } }""", "Dns:Servers:0", "127.1")]
    [InlineData("""{ "Dns": { "Servers": [ "0x7f.0.0.1:53" ] } }""", "Dns:Servers:0", "0x7f.0.0.1:53")]
    [InlineData("""{ "Dns": { "Servers": [ "2130706433" ] } }""", "Dns:Servers:0", "2130706433")]
    [InlineData("""{ "Listen": [ "inet:8891@127.1" ] }""", "Listen:0", "inet:8891@127.1")]
    [InlineData("""{ "Listen": [ "inet:8891@0x7f.1" ] }""", "Listen:0", "inet:8891@0x7f.1")]
    [InlineData("""{ "Listen": [ "inet:8891@2130706433" ] }""", "Listen:0", "inet:8891@2130706433")]
    [InlineData("""{ "Server": { "FrameTimeoutSeconds": 0 } }""", "Server:FrameTimeoutSeconds", "0")]
    [InlineData("""{ "Server": { "MaxFrameBytes": 2097152, "MaxBufferedBytes": 1048576 } }""", "Server:MaxBufferedBytes", "1048576")]
    public void BadValue_NamesKeyAndValue(string json, string key, string value)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Write(json), environment: false));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{value}\"", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void FrameDeadlineAndBufferBudget_DefaultTo10sAnd64MiB()
    {
        var o = ConfigLoader.Load(null, environment: false);
        Assert.Equal(10, o.Server.FrameTimeoutSeconds);
        Assert.Equal(64 * 1024 * 1024, o.Server.MaxBufferedBytes);
    }

    [Fact]
    public void UnknownKey_IsAnError()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Write("""{ "Signing": { "Keyz": [] } }"""), environment: false));
        Assert.Contains("Keyz", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("did you mean Signing:Keys?", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFile_And_BadJson_AreClearErrors()
    {
        var missing = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Path.Combine(_dir, "nope.json"), environment: false));
        Assert.Contains("nope.json", missing.Message, StringComparison.Ordinal);
        var bad = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Write("{ \"Listen\": [ "), environment: false));
        Assert.Contains("JSON", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownKey_FromFile_NamesValueFileAndTheKeyMeant()
    {
        // Issue 20: this was the binder's "'ErrorOnUnknownConfiguration' was set on the provided BinderOptions ...".
        var path = Write("""{ "Dmarc": { "RejectOnFailur": true } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal($"config: unknown key Dmarc:RejectOnFailur (value \"True\", from {path}); did you mean Dmarc:RejectOnFailure?", e.Message);
    }

    [Fact]
    public void UnknownKey_FarFromEveryKey_HasNoSuggestion()
    {
        var path = Write("""{ "Signing": { "Colour": "blue" } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal($"config: unknown key Signing:Colour (value \"blue\", from {path})", e.Message);
    }

    [Fact]
    public void UnknownSection_NamesItsFirstValue()
    {
        var path = Write("""{ "Dmark": { "Mode": "rfc7489" } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal($"config: unknown key Dmark:Mode (value \"rfc7489\", from {path}); did you mean Dmarc:Mode?", e.Message);
    }

    [Fact]
    public void JsonSyntaxError_NamesFileLineAndColumn()
    {
        var path = Write("{\n  \"Listen\": [ \"inet:8891@127.0.0.1\" ]\n  \"AuthservId\": \"mx.example.net\"\n}\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.StartsWith($"config: {path}: not valid JSON at line 3, column 3: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonThatIsNotAnObject_IsNamed()
    {
        var path = Write("""[ "inet:8891@127.0.0.1" ]""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal($"config: {path}: the file must hold one JSON object {{ ... }}, not a array", e.Message);
    }

    [Fact]
    public void StringInsteadOfList_SaysAListIsExpected()
    {
        var path = Write("""{ "Listen": "inet:8891@127.0.0.1" }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal($"config: Listen must be a list, e.g. [\"inet:8891@127.0.0.1\"] (got \"inet:8891@127.0.0.1\", from {path})", e.Message);
    }

    [Fact]
    public void ValueInsteadOfSection_SaysASectionIsExpected()
    {
        var path = Write("""{ "Dmarc": "on" }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.StartsWith("config: Dmarc must be a section (a JSON object with keys), not the value \"on\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NetworkList_MatchesCidrAndMappedAddresses()
    {
        var list = new NetworkList(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
        Assert.True(list.Contains(System.Net.IPAddress.Parse("10.1.2.3")));
        Assert.True(list.Contains(System.Net.IPAddress.Parse("::ffff:10.9.9.9")));
        Assert.True(list.Contains(System.Net.IPAddress.Parse("192.0.2.7")));
        Assert.False(list.Contains(System.Net.IPAddress.Parse("192.0.2.8")));
        Assert.True(list.Contains(System.Net.IPAddress.Parse("2001:db8:1::5")));
        Assert.False(list.Contains(System.Net.IPAddress.Parse("2001:db9::1")));
        Assert.False(list.Contains(null));
    }
}
