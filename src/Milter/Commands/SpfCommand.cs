using System.Net;
using System.Text;
using Milter.Configuration;
using Milter.MailAuth.Spf;
using Milter.Shared;

namespace Milter.Commands;

/// <summary>`milter spf --ip IP --helo NAME --mail-from ADDR [--json]`: SPF check_host() for the MAIL FROM
/// identity (RFC 7208 2.4; a null reverse-path checks postmaster@HELO), and for the HELO identity (2.3) as
/// information. Exit 0 for pass, 3 for temperror, 1 for any other MAIL FROM result.</summary>
public static class SpfCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var ipText = cl.Require("ip");
        var helo = cl.Require("helo");
        var mailFrom = cl.Require("mail-from");
        var json = cl.Flag("json");
        var dns = cl.Get("dns");
        var config = cl.Get("config");
        if (!IpAddressText.TryParse(ipText, out var ip))
            throw new UsageException($"spf: --ip '{ipText}' is not an IPv4 or IPv6 address");
        if (string.IsNullOrWhiteSpace(helo))
            throw new UsageException("spf: --helo must not be empty");

        var options = ConfigLoader.Load(config, listen: null, dnsServers: dns);
        var checker = new SpfChecker(CliDns.CreateResolver(options), options.ToSpfOptions(),
            TimeProvider.System);
        var result = await checker.CheckMailFromAsync(ip, mailFrom, helo, CancellationToken.None);
        if (json)
        {
            Console.Out.Write(ToJson(result) + "\n");
        }
        else
        {
            var heloResult = await checker.CheckHeloAsync(ip, helo, CancellationToken.None);
            Console.Out.Write(ToText(result, heloResult));
        }
        return result.Code switch
        {
            SpfResultCode.Pass => Program.ExitOk,
            SpfResultCode.TempError => Program.ExitTemporary,
            _ => Program.ExitCheckFailed,
        };
    }

    private static string ToText(SpfResult mailFrom, SpfResult helo)
    {
        var sb = new StringBuilder();
        sb.Append("spf=").Append(mailFrom.Keyword).Append(" smtp.mailfrom=").Append(mailFrom.Sender)
          .Append(" domain=").Append(mailFrom.Domain).Append('\n');
        if (mailFrom.Reason is not null) sb.Append("  reason: ").Append(mailFrom.Reason).Append('\n');
        if (mailFrom.Explanation is not null) sb.Append("  explanation: ").Append(mailFrom.Explanation).Append('\n');
        sb.Append("helo: spf=").Append(helo.Keyword).Append(" smtp.helo=").Append(helo.Domain).Append('\n');
        if (helo.Reason is not null) sb.Append("  reason: ").Append(helo.Reason).Append('\n');
        return sb.ToString();
    }

    /// <summary>The object `check --json` puts under "spf" (PRODUCT.md).</summary>
    private static string ToJson(SpfResult result) => CliJson.Object(w => CliJson.WriteSpfMembers(w, result));
}
