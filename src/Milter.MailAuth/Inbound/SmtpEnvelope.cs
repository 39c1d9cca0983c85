using System.Net;
using Milter.MailAuth.Message;

namespace Milter.MailAuth.Inbound;

/// <summary>
/// What the SMTP session told about one message before its content: the client address (null when the MTA
/// gave none, e.g. a local submission), the HELO/EHLO name, the MAIL FROM reverse-path as given (with or
/// without angle brackets; "" or "&lt;&gt;" for the null sender) and whether the client authenticated.
/// </summary>
public sealed record SmtpEnvelope(IPAddress? ClientAddress, string? Helo, string MailFrom, bool Authenticated = false)
{
    /// <summary>The MAIL FROM address without angle brackets ("" for the null sender).</summary>
    public string MailFromAddress => ReversePath.Address(MailFrom);
}
