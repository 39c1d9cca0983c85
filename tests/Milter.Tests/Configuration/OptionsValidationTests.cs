using System.Text.Json;
using Microsoft.Extensions.Options;
using Milter.Configuration;
using Milter.MailAuth.AuthenticationResults;

namespace Milter.Tests.Configuration;

/// <summary>Issue 21 item 5: one source of defaults (MilterOptions), checked by the Options validation pattern with the
/// rules the engines themselves enforce.</summary>
public sealed class OptionsValidationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("milter-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    [Theory]
    [InlineData("mx@example.net")]
    [InlineData("mx.example.net:25")]
    [InlineData("[192.0.2.1]")]
    [InlineData("mx/1")]
    public void AuthservIdTheWriterRefuses_IsRefusedAtLoad_InOneLine(string id)
    {
        // This passed the config check, and then every message tempfailed because the A-R writer refused it.
        var path = Write($$"""{ "AuthservId": "{{id}}" }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.StartsWith($"config: AuthservId = \"{id}\" (from {path}): ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Every value the config accepts, the writer accepts (and the reverse: it is one rule).</summary>
    [Fact]
    public void EveryAuthservIdTheConfigAccepts_TheWriterAccepts()
    {
        var candidates = new List<string> { "mx.example.net", "MX.EXAMPLE.NET.", "mx-1_a", new('a', 255), new('a', 256), "mx.exämple.net", "" };
        for (char c = (char)0; c < 128; c++)
        {
            candidates.Add("mx" + c + "example.net");
            candidates.Add(c.ToString());
        }
        foreach (var id in candidates)
        {
            var options = new MilterOptions { AuthservId = id.Length == 0 ? "x" : id };
            var configAccepts = new MilterOptionsValidator().Validate(null, options).Succeeded;
            bool writerAccepts;
            try
            {
                AuthenticationResultsWriter.Format(options.AuthservId, [new AuthMethodResult("spf", "pass")]);
                writerAccepts = true;
            }
            catch (ArgumentException)
            {
                writerAccepts = false;
            }
            Assert.True(configAccepts == writerAccepts, $"authserv-id {JsonSerializer.Serialize(options.AuthservId)}: config {configAccepts}, writer {writerAccepts}");
        }
    }

    [Theory]
    [InlineData("relaxed/relaxed", true)]
    [InlineData("Relaxed/Simple", true)]
    [InlineData("simple", true)]
    [InlineData("relaxed/", false)]
    [InlineData("loose/relaxed", false)]
    [InlineData("relaxed/relaxed/simple", false)]
    public void Canonicalization_IsTheSignersRule(string value, bool valid)
    {
        var options = new MilterOptions { AuthservId = "mx.example.net" };
        options.Signing.Canonicalization = value;
        Assert.Equal(valid, new MilterOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(valid, Milter.MailAuth.Dkim.DkimCanonicalizationNames.TryParsePair(value, out _, out _));
    }

    [Fact]
    public void NoConfigFile_IsExactlyTheDefaultsOfMilterOptions()
    {
        var loaded = ConfigLoader.Load(null, environment: false);
        var defaults = new MilterOptions { AuthservId = loaded.AuthservId };
        Assert.Equal(JsonSerializer.Serialize(defaults), JsonSerializer.Serialize(loaded));
        Assert.True(new MilterOptionsValidator().Validate(null, defaults).Succeeded);
    }

    [Fact]
    public void FileWithoutAKey_GetsTheSameDefaultAsNoFile()
    {
        var fromFile = ConfigLoader.Load(Write("""{ "LogLevel": "Information" }"""), environment: false);
        var none = ConfigLoader.Load(null, environment: false);
        Assert.Equal(JsonSerializer.Serialize(none), JsonSerializer.Serialize(fromFile));
    }

    [Fact]
    public void ListInTheFile_ReplacesTheDefaultList_AndAnEmptyListIsEmpty()
    {
        var o = ConfigLoader.Load(Write("""{ "Listen": [ "inet:9000@127.0.0.1", "inet:9001@127.0.0.1" ], "Signing": { "InternalHosts": [], "OversignHeaders": [ "Subject" ] } }"""),
            environment: false);
        Assert.Equal(["inet:9000@127.0.0.1", "inet:9001@127.0.0.1"], o.Listen!);
        Assert.Empty(o.Signing.InternalHosts!);
        Assert.Equal(["Subject"], o.Signing.OversignHeaders!);
        Assert.Equal(["127.0.0.1", "::1"], new MilterOptions().Signing.InternalHosts!);
    }

    [Fact]
    public void Validator_IsAnIValidateOptions_ReportingEveryProblemInOneLineEach()
    {
        IValidateOptions<MilterOptions> validator = new MilterOptionsValidator(key => key == "Dns:TimeoutMs" ? "MILTER_Dns__TimeoutMs" : null);
        var options = new MilterOptions { AuthservId = "mx.example.net" };
        options.Dns.TimeoutMs = 1;
        options.Server.MaxConnections = 0;
        var result = validator.Validate(Options.DefaultName, options);
        Assert.True(result.Failed);
        Assert.Equal(
            [
                "config: Dns:TimeoutMs = \"1\" (from MILTER_Dns__TimeoutMs): must be between 100 and 60000",
                "config: Server:MaxConnections = \"0\": must be between 1 and 100000",
            ],
            result.Failures!);
    }

    [Theory]
    [InlineData("""{ "Server": { "MaxConnections": "many" } }""", "Server:MaxConnections = \"many\" (from {0}) is not a whole number")]
    [InlineData("""{ "Spf": { "Enabled": "yes" } }""", "Spf:Enabled = \"yes\" (from {0}) is not true or false")]
    [InlineData("""{ "Dns": { "TimeoutMs": 1.5 } }""", "Dns:TimeoutMs = \"1.5\" (from {0}) is not a whole number")]
    [InlineData("""{ "Server": { "MaxConnections": 99999999999 } }""", "Server:MaxConnections = \"99999999999\" (from {0}) is out of range (a whole number from -2147483648 to 2147483647)")]
    [InlineData("""{ "Server": { "MaxConnections": { "Value": 5 } } }""", "Server:MaxConnections must be a single value (a whole number), not a list or section (from {0})")]
    public void WrongType_NamesKeyValueExpectedTypeAndSource(string json, string expected)
    {
        var path = Write(json);
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.Equal("config: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, path), e.Message);
    }

    [Theory]
    [InlineData("""{ "Signing": { "Rotation": { "PublishedForMinutes": -1 } } }""", "Signing:Rotation:PublishedForMinutes = \"-1\" (from {0}): must be between 0 and 43200 (30 days)")]
    [InlineData("""{ "Signing": { "Rotation": { "RetireAfterDays": 400 } } }""", "Signing:Rotation:RetireAfterDays = \"400\" (from {0}): must be between 0 and 365")]
    [InlineData("""{ "Signing": { "Rotation": { "CheckIntervalSeconds": 0 } } }""", "Signing:Rotation:CheckIntervalSeconds = \"0\" (from {0}): must be between 1 and 86400")]
    [InlineData("""{ "Signing": { "Rotation": { "KeyDirectory": "keys" } } }""", "Signing:Rotation:KeyDirectory = \"keys\" (from {0}): expected an absolute directory path")]
    [InlineData("""{ "Signing": { "Rotation": { "PublishedForMinutes": "soon" } } }""", "Signing:Rotation:PublishedForMinutes = \"soon\" (from {0}) is not a number")]
    [InlineData("""{ "Signing": { "Rotation": { "PublishedFor": 5 } } }""", "unknown key Signing:Rotation:PublishedFor")]
    public void Rotation_settings_out_of_range_name_the_key_value_and_file(string json, string expected)
    {
        var path = Write(json);
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, environment: false));
        Assert.StartsWith("config: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, path), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rotation_settings_take_fractions_for_short_test_times()
    {
        var options = ConfigLoader.Load(Write("""{ "Signing": { "Rotation": { "PublishedForMinutes": 0.05, "RetireAfterDays": 0.0002 } } }"""), environment: false);
        Assert.Equal(0.05, options.Signing.Rotation.PublishedForMinutes);
        Assert.Equal(1440, new MilterOptions().Signing.Rotation.PublishedForMinutes);
        Assert.Equal(7, new MilterOptions().Signing.Rotation.RetireAfterDays);
    }

    [Fact]
    public void BadValueOfTheListenOption_NamesTheOption()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["tcp:25"], environment: false));
        Assert.StartsWith("config: Listen:0 = \"tcp:25\" (from --listen): ", e.Message, StringComparison.Ordinal);
    }
}
