using Milter.MailAuth.Dns;

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
        var (code, line, warning) = await CheckRecordAsync(resolver, names.RecordName, key, keyPath, timeoutMs);
        if (warning is not null) Console.Error.WriteLine(warning);
        Console.Out.WriteLine(line);
        return code;
    }

    /// <summary>Looks up the key record <paramref name="name"/> and compares it with <paramref name="key"/>: the exit code
    /// (0 match, 1 problem with the record, 3 DNS temporary failure), the result line and a warning (weak key) or null.
    /// Shared by `testkey` and `check-config`.</summary>
    internal static async Task<(int Code, string Line, string? Warning)> CheckRecordAsync(IDnsResolver resolver, string name,
        Milter.MailAuth.Dkim.DkimPrivateKey key, string keyPath, int timeoutMs)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        DnsAnswer<string> answer;
        try
        {
            answer = await resolver.GetTxtAsync(name, cts.Token);
        }
        catch (OperationCanceledException)
        {
            answer = DnsAnswer<string>.TimedOut;
        }

        if (answer.IsTemporaryFailure)
            return (Program.ExitTemporary, $"temperror: the DNS lookup of TXT {name} failed temporarily ({answer.Error ?? answer.Status.ToString()})", null);
        if (answer.Status == DnsStatus.NxDomain || answer.Records.Count == 0)
        {
            var why = answer.Status == DnsStatus.NxDomain ? "NXDOMAIN" : "the name has no TXT records";
            return (Program.ExitCheckFailed, $"fail: no TXT record at {name} ({why})", null);
        }
        if (answer.Records.Count > 1)
        {
            // RFC 6376 3.6.2.2 leaves the choice among several records to the verifier: publish one.
            return (Program.ExitCheckFailed, $"fail: {answer.Records.Count} TXT records at {name}; publish exactly one key record there", null);
        }
        var result = KeyRecordCheck.Check(answer.Records[0], key, name, keyPath);
        return (result.Ok ? Program.ExitOk : Program.ExitCheckFailed, result.Ok ? result.Message : "fail: " + result.Message, result.Warning);
    }
}
