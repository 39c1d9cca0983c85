using System.Globalization;

namespace Milter.MailAuth.Dns;

/// <summary>How strict <see cref="DomainName.Problem"/> is about the characters of a label.</summary>
public enum DomainNameKind
{
    /// <summary>Host name (RFC 5890 2.3.1 LDH label, RFC 5321 sub-domain): letters, digits and hyphens, no hyphen
    /// first or last. The RFC5322.From domain.</summary>
    HostName,
    /// <summary>Letters, digits, '-' and '_' anywhere: what DKIM d=, DMARC and SPF accept ('_' appears in real
    /// d= values and in service names such as _dmarc).</summary>
    Domain,
    /// <summary>Any printable ASCII or space but '.' (RFC 2181 11; RFC 7208 7.3 macros can put "%20" or a space in a
    /// name): names built by SPF macros, and the DNS layer's check.</summary>
    Query,
}

/// <summary>
/// The one validator of domain names, shared by From parsing, SPF, DKIM d=, DMARC and the DNS layer, so that a
/// name no DNS query is made for is refused the same way everywhere (a permanent result, never temperror).
/// Every kind: 1..253 octets without the trailing dot, labels of 1..63 octets, ASCII only (U-labels are converted
/// first, <see cref="DnsNames.ToALabels"/>), and every label starting with "xn--" (any case) a valid A-label.
/// </summary>
public static class DomainName
{
    public const int MaxLength = 253;
    public const int MaxLabelLength = 63;

    /// <summary>Null when <paramref name="name"/> (no trailing dot) is valid for <paramref name="kind"/>, else why not.</summary>
    public static string? Problem(ReadOnlySpan<char> name, DomainNameKind kind)
    {
        if (name.IsEmpty) return "empty name";
        if (name.Length > MaxLength) return $"name longer than {MaxLength} octets";
        foreach (var range in name.Split('.'))
        {
            var label = name[range];
            if (label.IsEmpty) return "empty label";
            if (label.Length > MaxLabelLength) return $"label longer than {MaxLabelLength} octets";
            foreach (var c in label)
            {
                bool ok = kind switch
                {
                    DomainNameKind.HostName => char.IsAsciiLetterOrDigit(c) || c == '-',
                    DomainNameKind.Domain => char.IsAsciiLetterOrDigit(c) || c is '-' or '_',
                    _ => c is >= ' ' and <= '~',
                };
                if (!ok) return $"label \"{Printable(label)}\" holds a character not allowed in a domain name";
            }
            if (kind == DomainNameKind.HostName && (label[0] == '-' || label[^1] == '-'))
                return $"label \"{label}\" starts or ends with a hyphen";
            if (IsAcePrefixed(label) && !IsValidALabel(label))
                return $"label \"{Printable(label)}\" is not a valid A-label";
        }
        return null;
    }

    public static bool IsValid(ReadOnlySpan<char> name, DomainNameKind kind) => Problem(name, kind) is null;

    /// <summary>Whether a label begins with the ACE prefix "xn--" (RFC 5890 2.3.2.1, case-insensitive).</summary>
    public static bool IsAcePrefixed(ReadOnlySpan<char> label) =>
        label.Length >= 4 && label[..4].Equals("xn--", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// RFC 5890 2.3.2.1 / RFC 5891 5.4: an "xn--" label of LDH characters whose rest decodes by Punycode (RFC 3492)
    /// to a U-label that is not all ASCII and encodes back to the same label (compared without case), and whose
    /// U-label passes the checks that need no IDNA tables: RFC 5891 4.2.3.1 (no hyphen first or last, none in both
    /// positions 3 and 4), 4.2.3.2 (no leading combining mark), and no code point of a category RFC 5892 never
    /// allows (upper/title case, spaces, controls, format characters other than ZWNJ/ZWJ, private use, unassigned).
    /// The full RFC 5892 derived property and NFC are not checked (invariant globalization has no tables for them).
    /// </summary>
    public static bool IsValidALabel(ReadOnlySpan<char> label)
    {
        if (!IsAcePrefixed(label) || label.Length > MaxLabelLength) return false;
        foreach (var c in label)
            if (!char.IsAsciiLetterOrDigit(c) && c != '-') return false;
        var encoded = label[4..].ToString().ToLowerInvariant();
        if (!Punycode.TryDecode(encoded, out var uLabel)) return false;
        if (Punycode.Encode(uLabel) != encoded) return false;
        return IsAcceptableULabel(uLabel);
    }

    private static bool IsAcceptableULabel(string uLabel)
    {
        if (uLabel.Length == 0 || uLabel[0] == '-' || uLabel[^1] == '-') return false;
        if (uLabel.Length >= 4 && uLabel[2] == '-' && uLabel[3] == '-') return false;
        bool nonAscii = false;
        for (int i = 0; i < uLabel.Length; i += char.IsSurrogatePair(uLabel, i) ? 2 : 1)
        {
            int cp = char.ConvertToUtf32(uLabel, i);
            if (cp < 0x80)
            {
                if (!char.IsAsciiLetterLower((char)cp) && !char.IsAsciiDigit((char)cp) && cp != '-') return false;
                continue;
            }
            nonAscii = true;
            var category = CharUnicodeInfo.GetUnicodeCategory(cp);
            if (i == 0 && category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
                return false;
            switch (category)
            {
                case UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter
                    or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                    or UnicodeCategory.Control or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
                    or UnicodeCategory.Surrogate:
                    return false;
                case UnicodeCategory.Format when cp is not (0x200C or 0x200D):
                    return false;
            }
        }
        return nonAscii;
    }

    private static string Printable(ReadOnlySpan<char> label)
    {
        Span<char> copy = label.Length <= 64 ? stackalloc char[label.Length] : new char[label.Length];
        for (int i = 0; i < label.Length; i++)
            copy[i] = label[i] is >= ' ' and <= '~' ? label[i] : '?';
        return copy.ToString();
    }
}
