using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Dmarc;

/// <summary>Domain-name helpers for DMARC: normal form (A-labels, lower case, no outer dots) and label arithmetic.</summary>
public static class DmarcDomain
{
    public const int MaxNameLength = DomainName.MaxLength;

    /// <summary>
    /// The comparable form of a domain (RFC 9989 3.2.10 / RFC 4343): U-labels converted to A-labels, lower case,
    /// leading and trailing dots removed. Null when the name is empty, has an empty or over-long label, is longer
    /// than 253 characters, holds characters other than letters, digits, '-' and '_', or has an "xn--" label that is
    /// not a valid A-label (<see cref="DomainName"/>).
    /// </summary>
    public static string? Normalize(string? domain)
    {
        if (domain is null)
            return null;
        var span = domain.AsSpan().Trim().Trim('.');
        if (span.IsEmpty)
            return null;
        var name = DnsNames.ToALabels(span.ToString());
        return name is not null && DomainName.IsValid(name, DomainNameKind.Domain) ? name : null;
    }

    /// <summary>Number of labels of a normalized name.</summary>
    public static int CountLabels(string name) => name.Length == 0 ? 0 : name.AsSpan().Count('.') + 1;

    /// <summary>The right-most <paramref name="labels"/> labels of a normalized name.</summary>
    public static string LastLabels(string name, int labels)
    {
        int index = name.Length;
        for (int i = 0; i < labels; i++)
        {
            index = name.LastIndexOf('.', index - 1);
            if (index < 0)
                return name;
        }
        return name[(index + 1)..];
    }
}
