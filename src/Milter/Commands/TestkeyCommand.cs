using Milter.Keys;

namespace Milter.Commands;

/// <summary>`milter testkey --domain D --selector S --key FILE`: looks up S._domainkey.D and checks that the
/// published key is the public half of FILE. Exit 0 match, 1 problem with the record, 2 bad key file, 3 DNS
/// temporary failure.</summary>
public static class TestkeyCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var names = DkimKeyArguments.Read(cl);
        var keyPath = cl.Require("key");
        var dns = cl.Get("dns");
        var config = cl.Get("config");
        var timeoutMs = cl.GetInt("timeout-ms", 15_000, 100, 600_000);

        using var key = KeyFile.Load("testkey", keyPath);
        var resolver = CliDns.CreateResolver(dns, config);
        var (code, line, warning) = await KeyRecordCheck.CheckRecordAsync(resolver, names.RecordName, key, keyPath, timeoutMs);
        if (warning is not null) Console.Error.WriteLine(warning);
        Console.Out.WriteLine(line);
        return code;
    }
}
