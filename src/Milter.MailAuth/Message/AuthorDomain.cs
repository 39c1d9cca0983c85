using Milter.MailAuth.Dns;
using MimeKit;

namespace Milter.MailAuth.Message;

public enum AuthorStatus
{
    /// <summary>Exactly one From header with exactly one mailbox.</summary>
    Ok,
    NoFrom,
    MultipleFromHeaders,
    /// <summary>The From header holds no mailbox, or one MimeKit cannot parse, or its domain is not a valid name.</summary>
    Unparseable,
    MultipleAddresses,
}

/// <summary>The RFC5322.From author: address and domain (IDN as A-label, lower case).</summary>
public sealed record AuthorDomain(AuthorStatus Status, string? Address, string? Domain, string? Problem)
{
    /// <summary>Finds the author among the headers (name, exact raw value bytes). Never throws for bad mail.</summary>
    public static AuthorDomain FromHeaders(IEnumerable<(string Name, byte[] Value)> headers)
    {
        byte[]? from = null;
        var count = 0;
        foreach (var (name, value) in headers)
        {
            if (!IsFromField(name)) continue;
            count++;
            from ??= value;
        }
        return FromFields(count, from);
    }

    /// <summary>Whether a field name is From (case-insensitive, surrounding whitespace ignored).</summary>
    public static bool IsFromField(string? name)
        => name is not null && name.AsSpan().Trim().Equals("From", StringComparison.OrdinalIgnoreCase);

    /// <summary>The author of a message with <paramref name="count"/> From fields, the first of which is
    /// <paramref name="first"/>: for a caller that counts From fields as they stream in without keeping them all.</summary>
    public static AuthorDomain FromFields(int count, byte[]? first)
    {
        if (count == 0 || first is null) return new(AuthorStatus.NoFrom, null, null, "no From header");
        if (count > 1) return new(AuthorStatus.MultipleFromHeaders, null, null, $"{count} From headers");
        return FromValue(first);
    }

    /// <summary>The parser options, made once: MimeKit only reads them while parsing (as it does its shared
    /// <see cref="ParserOptions.Default"/>), and a clone per message cost more than the parse (issue 16).</summary>
    private static readonly ParserOptions StrictOptions = NewStrictOptions();

    private static ParserOptions NewStrictOptions()
    {
        var options = ParserOptions.Default.Clone();
        options.AddressParserComplianceMode = RfcComplianceMode.Strict;
        options.AllowAddressesWithoutDomain = false;
        return options;
    }

    /// <summary>Parses one From header value with MimeKit's strict address parser.</summary>
    public static AuthorDomain FromValue(byte[] value)
    {
        if (!InternetAddressList.TryParse(StrictOptions, value, out var list))
            return new(AuthorStatus.Unparseable, null, null, "From header does not parse as an address list");
        var mailboxes = list.Mailboxes.ToList();
        if (mailboxes.Count == 0) return new(AuthorStatus.Unparseable, null, null, "From header holds no mailbox");
        if (mailboxes.Count > 1) return new(AuthorStatus.MultipleAddresses, null, null, $"From header holds {mailboxes.Count} addresses");
        var mailbox = mailboxes[0];
        var domain = mailbox.Domain?.Trim();
        if (domain is { Length: > 1 } && domain[^1] == '.')
            domain = domain[..^1];
        if (string.IsNullOrEmpty(domain)) return new(AuthorStatus.Unparseable, mailbox.Address, null, "From address has no domain");
        if (domain.StartsWith('[')) return new(AuthorStatus.Unparseable, mailbox.Address, null, "From address has a domain literal");
        // A host name (RFC 5321 4.1.2 sub-domains; RFC 5890 LDH labels, A-labels that decode and re-encode), so that
        // a name DNS would refuse makes an invalid From (DMARC permerror, RejectInvalidFrom), never a DNS temperror.
        var aLabels = DnsNames.ToALabels(domain);
        var problem = aLabels is null ? "a label cannot be encoded" : DomainName.Problem(aLabels, DomainNameKind.HostName);
        if (problem is not null)
            return new(AuthorStatus.Unparseable, mailbox.Address, null, $"From domain is not a valid domain name: {problem}");
        return new(AuthorStatus.Ok, mailbox.Address, aLabels, null);
    }
}
