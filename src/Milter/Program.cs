using Milter.Commands;
using Milter.Configuration;

namespace Milter;

public static class Program
{
    public const int ExitOk = 0, ExitCheckFailed = 1, ExitUsage = 2, ExitTemporary = 3;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.Write(Usage);
            return args.Length == 0 ? ExitUsage : ExitOk;
        }
        var command = args[0];
        var rest = args.Skip(1).ToArray();
        try
        {
            return command switch
            {
                "run" => await RunCommand.ExecuteAsync(rest),
                "health" => await HealthCommand.ExecuteAsync(rest),
                "keygen" => KeygenCommand.Execute(rest),
                "testkey" => await TestkeyCommand.ExecuteAsync(rest),
                "sign" => await SignCommand.ExecuteAsync(rest),
                "bench" => await BenchCommand.ExecuteAsync(rest),
                "verify" => await VerifyCommand.ExecuteAsync(rest),
                "spf" => await SpfCommand.ExecuteAsync(rest),
                "check" => await CheckCommand.ExecuteAsync(rest),
                "dmarc" => await DmarcCommand.ExecuteAsync(rest),
                "report" => await ReportCommand.ExecuteAsync(rest),
                _ => throw new UsageException($"unknown command '{command}' (try: milter help)"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine("milter: " + e.Message);
            return ExitUsage;
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine("milter: " + e.Message);
            return ExitUsage;
        }
    }

    public const string Usage = """
        milter: DKIM signing, DKIM/SPF/DMARC verification for Postfix and Sendmail (milter protocol)

        usage: milter COMMAND [options]
          run [--config FILE] [--listen SPEC]...   run the daemon (default: inet:8891@127.0.0.1)
          health [--connect SPEC | --config FILE] [--timeout-ms N]
                                                   exit 0 when a milter answers option negotiation
          keygen --domain D --selector S [--algorithm rsa-sha256|ed25519-sha256] [--bits 2048]
                 [--directory DIR] [--force]       write DIR/S.private (mode 0600) and DIR/S.txt (TXT record)
          testkey --domain D --selector S --key FILE [--config FILE]
                                                   check that the key in DNS at S._domainkey.D matches FILE
          sign --domain D --selector S --key FILE [--algorithm A] [--canonicalization relaxed/relaxed]
               [--headers H1:H2:...]               sign the message on stdin, write it to stdout
          verify [--json] [--authserv-id ID] [--config FILE]
                                                   verify the DKIM signatures of the message on stdin
          spf --ip IP --helo NAME --mail-from ADDR [--json] [--config FILE]
                                                   SPF check_host() for MAIL FROM (and HELO)
          check --client-ip IP --helo NAME --mail-from ADDR [--authserv-id ID] [--json] [--config FILE]
                                                   SPF, DKIM and DMARC of the message on stdin, as the daemon does
          dmarc --domain D [--json] [--mode rfc9989|rfc7489] [--config FILE]
                                                   the DMARC record that applies to D and where it was found
          report --from DATE --to DATE --out DIR [--org-name N] [--org-email E] [--data-dir DIR]
                 [--send smtp://HOST:PORT]         DMARC aggregate reports (RFC 9990) from the stored evaluations
          bench --connect SPEC --messages N --concurrency C --size BYTES --mode sign|verify [--json]
                [--domain D] [--key FILE --selector S] [--client-ip IP] [--eml-dir DIR] [--warmup N]
                [--per-connection N] [--timeout-ms N]    milter load client (Postfix's side)

        global options: --dns HOST[:PORT][,HOST[:PORT]...]
        socket specs: inet:PORT@HOST, inet:PORT, inet6:PORT@HOST, unix:/path (local:/path)
        exit codes: 0 ok, 1 check failed, 2 bad usage or config, 3 temporary error

        """;
}
