using Milter.MailAuth.Dns;
using Milter.Shared;
using System.Net;
using System.Net.Sockets;

namespace Milter.MailAuth.Spf;

/// <summary>Domain-name and address rules of RFC 7208 (4.3, 5.6, 7.1, 7.3), without regular expressions.</summary>
internal static class SpfDomain
{
    public const int MaxDomainLength = DomainName.MaxLength;

    /// <summary>toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).</summary>
    public static bool IsTopLabel(ReadOnlySpan<char> label)
    {
        if (label.Length == 0 || !char.IsAsciiLetterOrDigit(label[0]) || !char.IsAsciiLetterOrDigit(label[^1]))
            return false;
        bool hasLetter = false, hasDash = false;
        foreach (var c in label)
        {
            if (char.IsAsciiLetter(c)) hasLetter = true;
            else if (c == '-') hasDash = true;
            else if (!char.IsAsciiDigit(c)) return false;
        }
        return hasLetter || hasDash;
    }

    /// <summary>
    /// Whether <paramref name="domain"/> can be the &lt;domain&gt; of check_host() (RFC 7208 4.3): a fully qualified
    /// multi-label name of letters, digits, '-' and '_' with labels of 1..63 characters, at most 253 in all, valid
    /// A-labels (<see cref="DomainName"/>), and a top label that is not all-numeric (so neither IP literals nor
    /// "[...]" domain literals qualify).
    /// </summary>
    public static bool IsValidCheckDomain(string domain)
    {
        var name = domain.AsSpan();
        if (name.Length > 0 && name[^1] == '.')
            name = name[..^1];
        if (!DomainName.IsValid(name, DomainNameKind.Domain))
            return false;
        int lastDot = name.LastIndexOf('.');
        return lastDot > 0 && IsTopLabel(name[(lastDot + 1)..]);
    }

    /// <summary>
    /// Prepares an expanded domain-spec for a query (RFC 7208 7.3): one trailing dot removed, and when longer than
    /// 253 characters, labels removed from the left until it fits.
    /// </summary>
    public static string PrepareTarget(string expanded)
    {
        var name = expanded.Length > 0 && expanded[^1] == '.' ? expanded[..^1] : expanded;
        while (name.Length > MaxDomainLength)
        {
            int dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
                return name;
            name = name[(dot + 1)..];
        }
        return name;
    }

    /// <summary>Whether a query can be composed for <paramref name="name"/> (RFC 7208 4.8 target names, which macros
    /// may fill with any printable ASCII): <see cref="DomainName"/> of kind Query (labels of 1..63 printable ASCII
    /// characters, at most 253 in all, valid A-labels). Names that fail are treated as non-existent.</summary>
    public static bool IsQueryable(string name) => DomainName.IsValid(name, DomainNameKind.Query);

    /// <summary>True when <paramref name="name"/> equals <paramref name="domain"/> or is a subdomain of it (case-insensitive).</summary>
    public static bool IsSameOrSubdomain(string name, string domain)
    {
        name = DnsNames.TrimTrailingDot(name);
        domain = DnsNames.TrimTrailingDot(domain);
        if (name.Equals(domain, StringComparison.OrdinalIgnoreCase))
            return true;
        return name.Length > domain.Length + 1
               && name[name.Length - domain.Length - 1] == '.'
               && name.EndsWith(domain, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether <paramref name="ip"/> lies in <paramref name="network"/>/<paramref name="prefix"/>
    /// (same address family required).</summary>
    public static bool InNetwork(IPAddress ip, IPAddress network, int prefix)
    {
        if (ip.AddressFamily != network.AddressFamily)
            return false;
        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        ip.TryWriteBytes(a, out int length);
        network.TryWriteBytes(b, out _);
        int full = prefix / 8;
        for (int i = 0; i < full && i < length; i++)
        {
            if (a[i] != b[i]) return false;
        }
        int rest = prefix % 8;
        if (rest == 0 || full >= length)
            return true;
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (b[full] & mask);
    }
}
