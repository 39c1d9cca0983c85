namespace Milter.MailAuth.Message;

/// <summary>The RFC 5321 reverse-path of MAIL FROM, as MTAs and people write it: with or without angle brackets.</summary>
public static class ReversePath
{
    /// <summary>The address inside the angle brackets, trimmed ("" for the null reverse-path "&lt;&gt;").
    /// The one reading of MAIL FROM for SPF, the Authentication-Results clause and the reports.</summary>
    public static string Address(string? mailFrom)
    {
        var s = (mailFrom ?? "").Trim();
        if (s.Length >= 2 && s[0] == '<' && s[^1] == '>')
            s = s[1..^1].Trim();
        return s;
    }
}
