using System.Text;

namespace Milter.MailAuth.Spf;

/// <summary>
/// Builds the value of a Received-SPF header field (RFC 7208 9.1):
/// <c>result (comment) key=value; ...</c> with the keys client-ip, envelope-from, helo, receiver, identity,
/// mechanism and problem. The value is one line; folding is left to the header writer.
/// </summary>
public static class ReceivedSpfHeader
{
    public const string FieldName = "Received-SPF";

    /// <param name="result">The check result (carries client IP, sender, HELO and identity).</param>
    /// <param name="receiver">This host's name (the "receiver" key and the comment's prefix).</param>
    public static string Build(SpfResult result, string receiver)
    {
        var ip = result.ClientIp?.ToString() ?? "unknown";
        var sender = result.Identity == SpfIdentity.Helo ? result.Helo ?? result.Domain : result.Sender ?? result.Domain;
        var comment = result.Code switch
        {
            SpfResultCode.Pass => $"domain of {sender} designates {ip} as permitted sender",
            SpfResultCode.Fail => $"domain of {sender} does not designate {ip} as permitted sender",
            SpfResultCode.SoftFail => $"domain of transitioning {sender} does not designate {ip} as permitted sender",
            SpfResultCode.Neutral => $"{ip} is neither permitted nor denied by domain of {sender}",
            SpfResultCode.None => $"domain of {sender} does not designate permitted sender hosts",
            SpfResultCode.TempError => $"error in processing during lookup of domain of {sender}",
            _ => $"permanent error in processing domain of {sender}",
        };

        var sb = new StringBuilder(256);
        sb.Append(result.Keyword).Append(" (").Append(EscapeComment(receiver + ": " + comment)).Append(')');
        Append(sb, "client-ip", ip);
        if (result.EnvelopeFrom is not null)
            Append(sb, "envelope-from", result.EnvelopeFrom);
        if (result.Helo is not null)
            Append(sb, "helo", result.Helo);
        Append(sb, "receiver", receiver);
        Append(sb, "identity", result.Identity.ToKeyword());
        if (result.Mechanism is not null && result.Code is not SpfResultCode.TempError and not SpfResultCode.PermError)
            Append(sb, "mechanism", result.Mechanism);
        if (result.Code is SpfResultCode.TempError or SpfResultCode.PermError && result.Reason is not null)
            Append(sb, "problem", result.Reason);
        return sb.ToString();
    }

    /// <summary>key-value-list = key-value-pair *( ";" [CFWS] key-value-pair ); the first follows the comment after a space.</summary>
    private static void Append(StringBuilder sb, string key, string value) =>
        sb.Append(sb[^1] == ')' ? " " : "; ").Append(key).Append('=').Append(IsDotAtom(value) ? value : Quote(value));

    /// <summary>dot-atom-text = 1*atext *("." 1*atext) (RFC 5322 3.2.3).</summary>
    private static bool IsDotAtom(string value)
    {
        if (value.Length == 0 || value[0] == '.' || value[^1] == '.')
            return false;
        char previous = '\0';
        foreach (var c in value)
        {
            bool atext = char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".Contains(c, StringComparison.Ordinal);
            if (!atext && !(c == '.' && previous != '.'))
                return false;
            previous = c;
        }
        return true;
    }

    /// <summary>quoted-string with '\' and '"' escaped; control characters and non-ASCII are dropped.</summary>
    private static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            if (c is '\\' or '"') sb.Append('\\').Append(c);
            else if (c is >= ' ' and <= '~') sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>ctext with '(' ')' '\' escaped; control characters and non-ASCII are dropped.</summary>
    private static string EscapeComment(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '(' or ')' or '\\') sb.Append('\\').Append(c);
            else if (c is >= ' ' and <= '~') sb.Append(c);
        }
        return sb.ToString();
    }
}
