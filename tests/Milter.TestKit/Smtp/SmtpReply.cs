namespace Milter.TestKit.Smtp;

/// <summary>One SMTP reply: the three-digit code and the text of all its lines (joined by '\n').</summary>
public sealed record SmtpReply(int Code, string Text)
{
    public bool IsPositive => Code is >= 200 and < 400;
    public bool IsTransientFailure => Code is >= 400 and < 500;
    public bool IsPermanentFailure => Code >= 500;
    public override string ToString() => $"{Code} {Text}";
}

/// <summary>What the client sent and the reply it got, in order.</summary>
public sealed record SmtpStep(string Command, SmtpReply Reply);

/// <summary>XCLIENT attributes (Postfix XCLIENT extension); null ones are not sent. Postfix must list the
/// client in smtpd_authorized_xclient_hosts.</summary>
public sealed record XClientAttributes(string? Addr = null, string? Name = null, string? Helo = null,
    string? Proto = null, int? Port = null, string? Login = null);

/// <summary>A whole mail transaction as <see cref="SmtpTestClient.SendAsync"/> ran it.</summary>
public sealed record SmtpTransaction(IReadOnlyList<SmtpStep> Steps, string Transcript)
{
    /// <summary>The reply to the first command starting with <paramref name="verb"/> ("MAIL", "RCPT", "DATA",
    /// "." for the end of data, "XCLIENT", "EHLO"); null when it was not sent.</summary>
    public SmtpReply? ReplyTo(string verb) =>
        Steps.FirstOrDefault(s => s.Command.StartsWith(verb, StringComparison.OrdinalIgnoreCase))?.Reply;

    /// <summary>The reply to the end of data ("."): 250 when the server took the message.</summary>
    public SmtpReply? DataReply => ReplyTo(".");

    /// <summary>True when the message was accepted at end of data.</summary>
    public bool Accepted => DataReply is { Code: 250 };

    /// <summary>The first reply that was not positive, if any (the step where the transaction stopped).</summary>
    public SmtpStep? FirstFailure => Steps.FirstOrDefault(s => !s.Reply.IsPositive);

    public override string ToString() => Transcript;
}
