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
        var name = names.RecordName;
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
        {
            Console.Out.WriteLine($"temperror: the DNS lookup of TXT {name} failed temporarily ({answer.Error ?? answer.Status.ToString()})");
            return Program.ExitTemporary;
        }
        if (answer.Status == DnsStatus.NxDomain || answer.Records.Count == 0)
        {
            var why = answer.Status == DnsStatus.NxDomain ? "NXDOMAIN" : "the name has no TXT records";
            Console.Out.WriteLine($"fail: no TXT record at {name} ({why})");
            return Program.ExitCheckFailed;
        }
        if (answer.Records.Count > 1)
        {
            // RFC 6376 3.6.2.2 leaves the choice among several records to the verifier: publish one.
            Console.Out.WriteLine($"fail: {answer.Records.Count} TXT records at {name}; publish exactly one key record there");
            return Program.ExitCheckFailed;
        }

        var result = KeyRecordCheck.Check(answer.Records[0], key, name, keyPath);
        if (result.Warning is not null) Console.Error.WriteLine(result.Warning);
        Console.Out.WriteLine(result.Ok ? result.Message : "fail: " + result.Message);
        return result.Ok ? Program.ExitOk : Program.ExitCheckFailed;
    }
}
