using System.Net;
using System.Text;
using Milter.Configuration;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Inbound;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Spf;
using Milter.Shared;

namespace Milter.Commands;

/// <summary>`milter check --client-ip IP --helo NAME --mail-from ADDR [--authserv-id ID] [--json]`: the daemon's
/// inbound evaluation (SPF, DKIM, DMARC) of the message on stdin (bare LF becomes CRLF), and the
/// Authentication-Results header the daemon would add. Exit codes: see <see cref="CheckExitCode"/>.</summary>
public static class CheckCommand
{
    /// <summary>Bounds the whole evaluation; each engine has its own, shorter limits as well.</summary>
    private static readonly TimeSpan OverallTimeout = TimeSpan.FromMinutes(2);

    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var ipText = cl.Require("client-ip");
        var helo = cl.Require("helo");
        var mailFrom = cl.Require("mail-from");
        var json = cl.Flag("json");
        var dns = cl.Get("dns");
        var config = cl.Get("config");
        var authservOption = cl.Get("authserv-id");
        if (!IpAddressText.TryParse(ipText, out var ip))
            throw new UsageException($"check: --client-ip '{ipText}' is not an IPv4 or IPv6 address");
        if (string.IsNullOrWhiteSpace(helo))
            throw new UsageException("check: --helo must not be empty");

        var options = ConfigLoader.Load(config, listen: null, dnsServers: dns);
        var authservId = authservOption ?? options.AuthservId!;
        try
        {
            AuthenticationResultsWriter.ValidateAuthservId(authservId);
        }
        catch (ArgumentException e)
        {
            throw new UsageException("check: --authserv-id: " + e.Message);
        }
        var message = await CliStdin.ReadRequiredMessageAsync("check");
        InboundResult outcome;
        using (var cts = new CancellationTokenSource(OverallTimeout))
        {
            try
            {
                outcome = await EvaluateAsync(options, authservId, new SmtpEnvelope(ip, helo, mailFrom), message, cts.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Out.WriteLine($"temperror: the evaluation did not finish within {OverallTimeout.TotalSeconds} s");
                return Program.ExitTemporary;
            }
            catch (InvalidDataException e)
            {
                // Past the pipeline's header cap: not checked (the daemon refuses such mail with 552 5.3.4).
                throw new UsageException("check: " + e.Message);
            }
        }

        var header = AuthenticationResultsWriter.HeaderName + ":" + outcome.FormatAuthenticationResults(
            json ? AuthenticationResultsWriter.MaxFoldWidth : 78);
        Console.Out.Write(json ? ToJson(outcome, header) + "\n" : ToText(outcome, header));
        return CheckExitCode.Of(outcome);
    }

    /// <summary>The evaluation itself: the daemon's own pipeline and settings (Spf:Enabled and Dmarc:Enabled included),
    /// fed the message (CRLF line ends) as a stream.</summary>
    internal static async Task<InboundResult> EvaluateAsync(MilterOptions options, string authservId, SmtpEnvelope envelope,
        byte[] message, CancellationToken ct)
    {
        var pipeline = new InboundPipeline(CliDns.CreateResolver(options), options.ToInboundPipelineOptions(authservId), TimeProvider.System);
        using var stream = new MemoryStream(message, writable: false);
        return await pipeline.EvaluateAsync(envelope, stream, ct);
    }

    private static string ToText(InboundResult o, string header)
    {
        var sb = new StringBuilder();
        if (o.Spf is null) sb.Append("spf: not checked (Spf:Enabled is false)\n");
        else
        {
            sb.Append("spf=").Append(o.Spf.Keyword).Append(" smtp.mailfrom=").Append(o.Spf.Sender).Append(" domain=").Append(o.Spf.Domain).Append('\n');
            Detail(sb, "reason", o.Spf.Reason);
            Detail(sb, "explanation", o.Spf.Explanation);
        }
        if (o.Dkim.Count == 0) sb.Append("dkim=none (the message has no DKIM-Signature)\n");
        sb.Append(CliJson.ArcLine(o.Arc));
        foreach (var d in o.Dkim)
        {
            sb.Append("dkim=").Append(d.ResultKeyword).Append(" d=").Append(Or(d.Domain)).Append(" s=").Append(Or(d.Selector))
              .Append(" a=").Append(Or(d.Algorithm)).Append('\n');
            Detail(sb, "reason", d.Reason);
        }
        if (o.Dmarc is not { } m)
        {
            sb.Append("dmarc: not checked (Dmarc:Enabled is false)\n");
            sb.Append(header.Replace("\r\n", "\n", StringComparison.Ordinal)).Append('\n');
            return sb.ToString();
        }
        sb.Append("dmarc=").Append(m.ResultKeyword).Append(" header.from=").Append(Or(m.AuthorDomain));
        if (m.Policy is { } policy)
            sb.Append(" policy=").Append(m.PolicyTag).Append('=').Append(policy.ToKeyword())
              .Append(" disposition=").Append(m.Disposition.ToKeyword()).Append(" record=_dmarc.").Append(m.PolicyDomain);
        sb.Append('\n');
        Detail(sb, "reason", m.Reason);
        sb.Append(header.Replace("\r\n", "\n", StringComparison.Ordinal)).Append('\n');
        return sb.ToString();
    }

    private static void Detail(StringBuilder sb, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value)) sb.Append("  ").Append(name).Append(": ").Append(value).Append('\n');
    }

    private static string Or(string value) => value.Length == 0 ? "-" : value;

    /// <summary>The PRODUCT.md object: "dkim", "spf", "dmarc" and "arc" and "authenticationResults".</summary>
    private static string ToJson(InboundResult o, string header) => CliJson.Object(w =>
    {
        CliJson.WriteDkim(w, o.Dkim);
        if (o.Spf is null) w.WriteNull("spf");
        else
        {
            w.WriteStartObject("spf");
            CliJson.WriteSpfMembers(w, o.Spf);
            w.WriteEndObject();
        }
        if (o.Dmarc is not { } dmarc) w.WriteNull("dmarc");
        else
        {
            w.WriteStartObject("dmarc");
            w.WriteString("result", dmarc.ResultKeyword);
            w.WriteString("domain", dmarc.AuthorDomain.Length > 0 ? dmarc.AuthorDomain : null);
            w.WriteString("policy", dmarc.Policy?.ToKeyword());
            w.WriteString("disposition", dmarc.Disposition.ToKeyword());
            w.WriteEndObject();
        }
        CliJson.WriteArc(w, o.Arc);
        w.WriteString("authenticationResults", header);
    });
}
