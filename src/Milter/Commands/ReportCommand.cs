using System.Globalization;
using MailKit;
using Milter.Configuration;
using Milter.MailAuth.Dmarc;
using Milter.Reporting.Aggregate;

namespace Milter.Commands;

/// <summary>
/// `milter report --from DATE --to DATE --out DIR [--org-name N] [--org-email E] [--data-dir DIR] [--send smtp://HOST:PORT]`:
/// one RFC 9990 aggregate report per DMARC Policy Domain with rua= from the stored evaluations of the period, written
/// gzip-compressed to DIR under the RFC file name; with --send, mailed to each mailto: rua (external destinations
/// verified in DNS first). DATE is a UTC day (yyyy-MM-dd; --to includes that whole day) or an ISO 8601 time (--to
/// exclusive). Exit 0 done, 2 bad usage or no store, 3 a report could not be sent (SMTP or DNS failure).
/// </summary>
public static class ReportCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var fromText = cl.Require("from");
        var toText = cl.Require("to");
        var outDir = cl.Require("out");
        var orgName = cl.Get("org-name");
        var orgEmail = cl.Get("org-email");
        var dataDirOption = cl.Get("data-dir");
        var send = cl.Get("send");
        var dns = cl.Get("dns");
        var config = cl.Get("config");

        var from = ParseDate("from", fromText, endOfDay: false);
        var to = ParseDate("to", toText, endOfDay: true);
        if (to <= from)
            throw new UsageException($"report: --to {toText} is not after --from {fromText}");
        (string Host, int Port)? relay = send is null ? null : ParseRelay(send);

        var reportsSection = dataDirOption is null ? ConfigLoader.Load(config).Reports : new ReportsSection { DataDirectory = dataDirOption };
        var location = Locate(reportsSection);
        // A shared store: every host must name the same organisation, or each would send its own report under its own id.
        if (location.Kind == ReportStoreKind.PostgreSql && orgEmail is null)
            throw new UsageException("report: a shared (postgresql) store needs --org-email: reports are sent for the organisation, not this host");
        var submitter = Submitter(orgName, orgEmail);
        try
        {
            Directory.CreateDirectory(outDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"report: cannot create --out {outDir}: {e.Message}");
        }

        using var db = OpenStore(location);
        IReadOnlyList<AggregateReport> reports;
        try
        {
            reports = AggregateReportBuilder.FromStore(db, from, to, submitter);
        }
        catch (Exception e) when (DmarcReportStore.IsStorageError(e))
        {
            throw new UsageException($"report: cannot read the report store {location}: {e.Message}");
        }

        int failures = 0;
        var files = new List<(AggregateReport Report, byte[] Gzip)>();
        foreach (var report in reports)
        {
            var gzip = AggregateReportXml.ToGzip(report);
            string path = Path.Combine(outDir, report.FileName);
            await File.WriteAllBytesAsync(path, gzip);
            Console.Out.WriteLine($"wrote {path} ({report.Rows.Count} records, {report.MessageCount} messages)");
            files.Add((report, gzip));
        }
        if (reports.Count == 0)
            Console.Out.WriteLine("no reports: no stored evaluation in the period for a domain with rua=");

        if (relay is { } r)
        {
            var check = new ExternalDestination(CliDns.CreateResolver(dns, config), PublicSuffixList.Default);
            var mailer = new AggregateReportMailer(r.Host, r.Port, TimeSpan.FromSeconds(30));
            var ledger = new ReportSendLedger(db, TimeProvider.System);
            foreach (var (report, gzip) in files)
                failures += await SendAsync(report, gzip, check, mailer, ledger);
        }
        return failures == 0 ? Program.ExitOk : Program.ExitTemporary;
    }

    /// <summary>Where the store is: postgresql (Reports:Store) at Reports:ConnectionString; else the SQLite file in --data-dir,
    /// Reports:DataDirectory (--config file, MILTER_ environment), or whichever of /var/lib/milter and the user's state
    /// directory holds a store (the daemon's default is one of them).</summary>
    private static ReportStoreLocation Locate(ReportsSection reports)
    {
        if (ReportStoreLocation.IsPostgreSql(reports))
        {
            if (ReportStoreStartup.Problems(reports).FirstOrDefault() is { Key: not null } problem)
                throw new UsageException($"report: {problem.Key}: {problem.Text}");
            return ReportStoreLocation.PostgreSql(reports.ConnectionString!);
        }
        var (dataDir, lookedIn) = ReportDataDirectory.Locate(reports);
        if (dataDir is null || !File.Exists(DmarcReportStore.PathIn(dataDir)))
            throw new UsageException($"report: no report store at {string.Join(" or ", lookedIn.Select(DmarcReportStore.PathIn))} (--data-dir)");
        return ReportStoreLocation.Sqlite(dataDir);
    }

    private static DmarcReportDatabase OpenStore(ReportStoreLocation location)
    {
        try
        {
            return DmarcReportDatabase.Open(location, create: false);
        }
        catch (Exception e) when (DmarcReportStore.IsStorageError(e))
        {
            throw new UsageException($"report: cannot read the report store {location}: {e.Message}");
        }
    }

    private static async Task<int> SendAsync(AggregateReport report, byte[] gzip, ExternalDestination check, AggregateReportMailer mailer,
        ReportSendLedger ledger)
    {
        int failures = 0;
        var addresses = ExternalDestination.MailtoAddresses(report.Policy.Rua);
        if (addresses.Count == 0)
            Console.Out.WriteLine($"not sent {report.ReportId} for {report.Policy.Domain}: rua= has no mailto: address");
        foreach (var address in addresses)
        {
            var verdict = await check.CheckAsync(report.Policy.Domain, address, CancellationToken.None);
            if (verdict.Verdict != DestinationVerdict.Allowed)
            {
                Console.Out.WriteLine($"skipped {address} for {report.Policy.Domain}: {verdict.Reason}");
                if (verdict.Verdict == DestinationVerdict.TempError)
                    failures++;
                continue;
            }
            foreach (var to in verdict.Addresses)
            {
                ReportSendLedger.Claim? claim;
                try
                {
                    claim = ledger.TryClaim(report, to);
                }
                catch (Exception e) when (DmarcReportStore.IsStorageError(e))
                {
                    Console.Error.WriteLine($"milter: report: not sending {report.ReportId} to {to}: the report store failed: {e.Message}");
                    failures++;
                    continue;
                }
                if (claim is null)
                {
                    Console.Out.WriteLine($"not sent {report.ReportId} for {report.Policy.Domain} to {to}: already sent, or being sent by another run");
                    continue;
                }
                try
                {
                    await mailer.SendAsync(report, gzip, to, CancellationToken.None);
                    ledger.Sent(claim);
                    Console.Out.WriteLine($"sent {report.ReportId} for {report.Policy.Domain} to {to}");
                }
                catch (Exception e) when (DmarcReportStore.IsStorageError(e))
                {
                    // Sent, but not recorded: a run after the lease runs out sends it again (the one retry).
                    Console.Error.WriteLine($"milter: report: sent {report.ReportId} to {to} but could not record it: {e.Message}");
                    failures++;
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or MailKit.Net.Smtp.SmtpCommandException
                                              or MailKit.Net.Smtp.SmtpProtocolException or ServiceNotConnectedException
                                              or MailKit.Security.AuthenticationException or TimeoutException or OperationCanceledException
                                              or MimeKit.ParseException)
                {
                    Console.Error.WriteLine($"milter: report: sending {report.ReportId} to {to} failed: {e.Message}");
                    ledger.Release(claim);
                    failures++;
                }
            }
        }
        return failures;
    }

    /// <summary>yyyy-MM-dd is a UTC day (its start, or with <paramref name="endOfDay"/> the start of the next day);
    /// anything else must be an ISO 8601 time (UTC unless it says otherwise).</summary>
    internal static DateTimeOffset ParseDate(string option, string text, bool endOfDay)
    {
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            return endOfDay ? start.AddDays(1) : start;
        }
        if (text.Contains('T') && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return time;
        throw new UsageException($"report: --{option} '{text}' is not a date (yyyy-MM-dd) or an ISO 8601 time (yyyy-MM-ddTHH:mm:ssZ)");
    }

    private static (string Host, int Port) ParseRelay(string send)
    {
        if (!Uri.TryCreate(send, UriKind.Absolute, out var uri) || uri.Scheme != "smtp" || string.IsNullOrEmpty(uri.Host)
            || uri.AbsolutePath is not ("" or "/") || !string.IsNullOrEmpty(uri.Query))
            throw new UsageException($"report: --send '{send}' is not smtp://HOST[:PORT]");
        return (uri.IdnHost.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? 25 : uri.Port);
    }

    /// <summary>The reporting organization: --org-email's domain is the receiver domain (file names, Submitter);
    /// without it, the host name.</summary>
    private static ReportSubmitter Submitter(string? orgName, string? orgEmail)
    {
        string? domain;
        if (orgEmail is not null)
        {
            if (!MimeKit.MailboxAddress.TryParse(orgEmail, out var mailbox) || mailbox.Address.IndexOf('@') <= 0
                || DmarcEvaluationRecord.DomainOf(mailbox.Address) is not { } d)
                throw new UsageException($"report: --org-email '{orgEmail}' is not an e-mail address");
            orgEmail = mailbox.Address;
            domain = d;
        }
        else
        {
            domain = DmarcDomain.Normalize(System.Net.Dns.GetHostName()) ?? "localhost";
            orgEmail = "postmaster@" + domain;
        }
        if (orgName is not null && string.IsNullOrWhiteSpace(orgName))
            throw new UsageException("report: --org-name must not be empty");
        return new ReportSubmitter(orgName ?? domain, orgEmail, domain);
    }
}
