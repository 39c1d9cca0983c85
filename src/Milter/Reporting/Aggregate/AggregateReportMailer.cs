using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Milter.Reporting.Aggregate;

/// <summary>Mails aggregate reports through an SMTP relay (MailKit): RFC 9990 section "Email": a MIME message with
/// the Subject "Report Domain: ... Submitter: ... Report-ID: &lt;...&gt;", a short text part and the gzip file as an
/// application/gzip attachment. STARTTLS is used when the relay offers it.</summary>
public sealed class AggregateReportMailer(string host, int port, TimeSpan timeout)
{
    public static MimeMessage BuildMessage(AggregateReport report, byte[] gzip, string to)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress(report.Submitter.OrgName, report.Submitter.Email));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = report.Subject;
        message.MessageId = $"{report.ReportId}@{report.Submitter.Domain}";
        message.Date = DateTimeOffset.UtcNow;
        var text = new TextPart("plain")
        {
            Text = $"This is a DMARC aggregate report (RFC 9990) for {report.Policy.Domain} from {report.Submitter.OrgName}.\n" +
                   $"Period: {DateTimeOffset.FromUnixTimeSeconds(report.Begin):u} to {DateTimeOffset.FromUnixTimeSeconds(report.End):u}; " +
                   $"{report.MessageCount} message(s) in {report.Rows.Count} record(s).\n",
        };
        var attachment = new MimePart("application", "gzip")
        {
            Content = new MimeContent(new MemoryStream(gzip)),
            ContentDisposition = new ContentDisposition(ContentDisposition.Attachment),
            ContentTransferEncoding = ContentEncoding.Base64,
            FileName = report.FileName,
        };
        message.Body = new Multipart("mixed") { text, attachment };
        return message;
    }

    /// <summary>Sends the report to one address (its own SMTP session, so one refused address does not stop the
    /// others). Throws on a connection or protocol failure.</summary>
    public async Task SendAsync(AggregateReport report, byte[] gzip, string address, CancellationToken ct)
    {
        using var client = new SmtpClient { Timeout = (int)timeout.TotalMilliseconds };
        await client.ConnectAsync(host, port, SecureSocketOptions.StartTlsWhenAvailable, ct);
        using var message = BuildMessage(report, gzip, address);
        await client.SendAsync(message, ct);
        await client.DisconnectAsync(true, ct);
    }
}
