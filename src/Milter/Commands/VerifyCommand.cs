using System.Text;
using Milter.Configuration;
using Milter.MailAuth.Arc;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>`milter verify [--json] [--authserv-id ID]`: verifies every DKIM-Signature and the ARC chain of the message on
/// stdin (bare LF becomes CRLF, one body pass for both), prints one line per signature, the ARC result and the
/// Authentication-Results header they imply.
/// Exit 0 when a signature passes, 3 when none does and a key lookup failed temporarily, 1 otherwise.</summary>
public static class VerifyCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var json = cl.Flag("json");
        var dns = cl.Get("dns");
        var config = cl.Get("config");
        var authservOption = cl.Get("authserv-id");
        var timeoutMs = cl.GetInt("timeout-ms", 30_000, 100, 600_000);

        var options = ConfigLoader.Load(config, listen: null, dnsServers: dns);
        var authservId = authservOption ?? options.AuthservId!;
        try
        {
            AuthenticationResultsWriter.ValidateAuthservId(authservId);
        }
        catch (ArgumentException e)
        {
            throw new UsageException("verify: --authserv-id: " + e.Message);
        }
        var verifier = new DkimVerifier(CliDns.CreateResolver(options), options.ToDkimVerifierOptions());

        var message = await CliStdin.ReadRequiredMessageAsync("verify");
        IReadOnlyList<DkimVerificationResult> results;
        ArcChainResult arc;
        using (var cts = new CancellationTokenSource(timeoutMs))
        {
            try
            {
                (results, arc) = await ArcVerification.VerifyMessageAsync(verifier, message, cts.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Out.WriteLine($"temperror: verification did not finish within {timeoutMs} ms");
                return Program.ExitTemporary;
            }
        }

        var clauses = Milter.MailAuth.Inbound.InboundClauses.Dkim(results).ToList();
        if (arc.Result != ArcResult.None)
            clauses.Insert(0, Milter.MailAuth.Inbound.InboundClauses.Arc(arc, new Milter.MailAuth.Inbound.SmtpEnvelope(null, null, "")));
        var header = AuthenticationResultsWriter.HeaderName + ":" + AuthenticationResultsWriter.Format(authservId, clauses,
            json ? AuthenticationResultsWriter.MaxFoldWidth : 78);
        Console.Out.Write(json ? ToJson(results, arc, header) + "\n" : ToText(results, arc, header));
        if (results.Any(r => r.IsPass)) return Program.ExitOk;
        return results.Any(r => r.Result == DkimResult.TempError) ? Program.ExitTemporary : Program.ExitCheckFailed;
    }

    private static string ToText(IReadOnlyList<DkimVerificationResult> results, ArcChainResult arc, string header)
    {
        var sb = new StringBuilder();
        if (results.Count == 0) sb.Append("dkim=none (the message has no DKIM-Signature)\n");
        foreach (var r in results)
        {
            sb.Append("dkim=").Append(r.ResultKeyword)
              .Append(" d=").Append(Or(r.Domain)).Append(" s=").Append(Or(r.Selector)).Append(" a=").Append(Or(r.Algorithm));
            if (r.Reason is not null) sb.Append(" reason=\"").Append(r.Reason).Append('"');
            sb.Append('\n');
        }
        sb.Append(CliJson.ArcLine(arc));
        sb.Append(header.Replace("\r\n", "\n", StringComparison.Ordinal)).Append('\n');
        return sb.ToString();
    }

    private static string Or(string value) => value.Length == 0 ? "-" : value;

    /// <summary>The PRODUCT.md object: "dkim" (one entry per signature), "arc" and "authenticationResults".</summary>
    private static string ToJson(IReadOnlyList<DkimVerificationResult> results, ArcChainResult arc, string header) => CliJson.Object(w =>
    {
        CliJson.WriteDkim(w, results);
        CliJson.WriteArc(w, arc);
        w.WriteString("authenticationResults", header);
    });
}
