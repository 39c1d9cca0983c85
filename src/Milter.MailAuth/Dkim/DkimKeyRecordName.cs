using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Dkim;

/// <summary>Domain and selector checks for DKIM, and the key record name "selector._domainkey.domain"
/// (RFC 6376 3.6.2.1).</summary>
public static class DkimKeyRecordName
{
    /// <summary>The DNS name to query (A-labels, lower case, no trailing dot), or null when it cannot be formed.</summary>
    public static string? For(string selector, string domain)
    {
        string? d = DnsNames.ToALabels(domain);
        string? s = DnsNames.ToALabels(selector);
        if (d is null || s is null)
        {
            return null;
        }
        string name = s + "._domainkey." + d;
        return DomainName.IsValid(name, DomainNameKind.Domain) ? name : null;
    }

    /// <summary>A domain name: dot-separated labels of letters, digits, '-' and '_' (lenient: '_' appears in
    /// real d= values), or non-ASCII labels (RFC 8616); 1-63 octets a label, no empty label; once in A-labels a
    /// valid name of <see cref="DomainName"/> (so an "xn--" label must be a valid A-label).</summary>
    public static bool IsValidDomain(string domain) =>
        IsValidName(domain) && DnsNames.ToALabels(domain) is { } a && DomainName.IsValid(a, DomainNameKind.Domain);

    /// <summary>A selector: one or more labels like a domain (RFC 6376 3.1).</summary>
    public static bool IsValidSelector(string selector) =>
        IsValidName(selector) && DnsNames.ToALabels(selector) is { } a && DomainName.IsValid(a, DomainNameKind.Domain);

    /// <summary>True when <paramref name="candidate"/> equals <paramref name="parent"/> or is a subdomain of it
    /// (ASCII case-insensitive).</summary>
    public static bool IsSameOrSubdomain(string candidate, string parent)
    {
        if (candidate.Length == parent.Length)
        {
            return candidate.Equals(parent, StringComparison.OrdinalIgnoreCase);
        }
        return candidate.Length > parent.Length
            && candidate[candidate.Length - parent.Length - 1] == '.'
            && candidate.EndsWith(parent, StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsValidName(string name)
    {
        if (name.Length == 0 || name.Length > 253)
        {
            return false;
        }
        int labelLength = 0;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (c == '.')
            {
                if (labelLength == 0)
                {
                    return false;
                }
                labelLength = 0;
                continue;
            }
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_' || c > '\x7f'))
            {
                return false;
            }
            if (++labelLength > 63)
            {
                return false;
            }
        }
        return labelLength > 0;
    }
}
