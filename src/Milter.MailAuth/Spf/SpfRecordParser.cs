using Milter.Shared;
using System.Buffers;
using System.Net;

namespace Milter.MailAuth.Spf;

/// <summary>Record selection test and full syntax check of an SPF record (RFC 7208 4.5, 4.6, 5, 6, 7.1, Appendix A).</summary>
internal static class SpfRecordParser
{
    private const string Version = "v=spf1";
    private static readonly SearchValues<char> ModifierOrArgument = SearchValues.Create(":/=");
    private static readonly SearchValues<char> ArgumentStart = SearchValues.Create(":/");

    /// <summary>A record is an SPF record when it starts with "v=spf1" (case-insensitive) followed by a space or
    /// its end (RFC 7208 4.5).</summary>
    public static bool IsSpfRecord(string txt) =>
        txt.StartsWith(Version, StringComparison.OrdinalIgnoreCase) && (txt.Length == Version.Length || txt[Version.Length] == ' ');

    /// <summary>Parses the whole record; any syntax error anywhere makes it unusable (RFC 7208 4.6: permerror).</summary>
    public static SpfRecord? Parse(string txt, out string? error)
    {
        error = null;
        for (int i = 0; i < txt.Length; i++)
        {
            // Terms are separated by SP only; the record is 7-bit printable ASCII (RFC 7208 3.1, 4.6.1).
            if (txt[i] is < ' ' or > '~')
            {
                error = $"character 0x{(int)txt[i]:X2} not allowed in an SPF record (position {i})";
                return null;
            }
        }
        var mechanisms = new List<SpfMechanism>();
        MacroString? redirect = null, exp = null;
        foreach (var term in txt[Version.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int sep = term.AsSpan().IndexOfAny(ModifierOrArgument);
            if (sep >= 0 && term[sep] == '=')
            {
                var name = term[..sep];
                if (!IsModifierName(name))
                {
                    error = $"\"{term}\": invalid modifier name";
                    return null;
                }
                var value = term[(sep + 1)..];
                if (name.Equals("redirect", StringComparison.OrdinalIgnoreCase) || name.Equals("exp", StringComparison.OrdinalIgnoreCase))
                {
                    bool isRedirect = name.Length == 8;
                    // redirect and exp may each appear once (RFC 7208 6).
                    if ((isRedirect ? redirect : exp) is not null)
                    {
                        error = $"\"{name}=\" appears more than once";
                        return null;
                    }
                    if (MacroString.TryParseDomainSpec(value, out var spec) is { } specError)
                    {
                        error = $"\"{term}\": {specError}";
                        return null;
                    }
                    if (isRedirect) redirect = spec; else exp = spec;
                }
                else if (MacroString.TryParse(value, MacroScope.UnknownModifier, out _) is { } macroError)
                {
                    // Unknown modifiers are ignored, but their value must be a valid macro-string (Appendix A).
                    error = $"\"{term}\": {macroError}";
                    return null;
                }
                continue;
            }
            var mechanism = ParseDirective(term, out error);
            if (mechanism is null)
                return null;
            mechanisms.Add(mechanism);
        }
        return new SpfRecord(mechanisms, redirect, exp);
    }

    /// <summary>name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).</summary>
    private static bool IsModifierName(string name)
    {
        if (name.Length == 0 || !char.IsAsciiLetter(name[0]))
            return false;
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.')
                return false;
        }
        return true;
    }

    private static SpfMechanism? ParseDirective(string term, out string? error)
    {
        error = null;
        var qualifier = SpfResultCode.Pass;
        var body = term;
        switch (term[0])
        {
            case '+': qualifier = SpfResultCode.Pass; body = term[1..]; break;
            case '-': qualifier = SpfResultCode.Fail; body = term[1..]; break;
            case '~': qualifier = SpfResultCode.SoftFail; body = term[1..]; break;
            case '?': qualifier = SpfResultCode.Neutral; body = term[1..]; break;
        }
        int end = body.AsSpan().IndexOfAny(ArgumentStart);
        var name = (end < 0 ? body : body[..end]).ToLowerInvariant();
        var rest = end < 0 ? "" : body[end..];
        SpfMechanism Make(SpfMechanismKind kind, MacroString? domain = null, IPAddress? network = null, int c4 = 32, int c6 = 128) =>
            new(qualifier, kind, term, domain, network, c4, c6);

        switch (name)
        {
            case "all":
                if (rest.Length == 0) return Make(SpfMechanismKind.All);
                error = $"\"{term}\": 'all' takes no argument";
                return null;
            case "include":
            case "exists":
                {
                    // include = "include" ":" domain-spec; exists = "exists" ":" domain-spec (RFC 7208 5.2, 5.7).
                    if (!rest.StartsWith(':'))
                    {
                        error = $"\"{term}\": '{name}' needs ':' and a domain";
                        return null;
                    }
                    if (MacroString.TryParseDomainSpec(rest[1..], out var spec) is { } e)
                    {
                        error = $"\"{term}\": {e}";
                        return null;
                    }
                    return Make(name == "include" ? SpfMechanismKind.Include : SpfMechanismKind.Exists, spec);
                }
            case "a":
            case "mx":
                {
                    // A / MX = name [ ":" domain-spec ] [ dual-cidr-length ] (RFC 7208 5.3, 5.4).
                    if (!TrySplitDualCidr(rest, out var domainPart, out int c4, out int c6, out error))
                    {
                        error = $"\"{term}\": {error}";
                        return null;
                    }
                    MacroString? spec = null;
                    if (domainPart.Length > 0)
                    {
                        if (domainPart[0] != ':')
                        {
                            error = $"\"{term}\": unexpected \"{domainPart}\"";
                            return null;
                        }
                        if (MacroString.TryParseDomainSpec(domainPart[1..], out spec) is { } e)
                        {
                            error = $"\"{term}\": {e}";
                            return null;
                        }
                    }
                    return Make(name == "a" ? SpfMechanismKind.A : SpfMechanismKind.Mx, spec, null, c4, c6);
                }
            case "ptr":
                {
                    MacroString? spec = null;
                    if (rest.Length > 0)
                    {
                        if (rest[0] != ':' || MacroString.TryParseDomainSpec(rest[1..], out spec) is not null)
                        {
                            error = $"\"{term}\": 'ptr' takes only an optional ':' domain";
                            return null;
                        }
                    }
                    return Make(SpfMechanismKind.Ptr, spec);
                }
            case "ip4":
            case "ip6":
                {
                    bool v6 = name == "ip6";
                    if (!rest.StartsWith(':'))
                    {
                        error = $"\"{term}\": '{name}' needs ':' and a network";
                        return null;
                    }
                    var arg = rest.AsSpan(1);
                    int slash = arg.IndexOf('/');
                    var networkText = slash < 0 ? arg : arg[..slash];
                    int cidr = v6 ? 128 : 32;
                    if (slash >= 0 && !IpAddressText.TryParsePrefix(arg[(slash + 1)..], v6 ? 128 : 32, out cidr))
                    {
                        error = $"\"{term}\": invalid CIDR length";
                        return null;
                    }
                    IPAddress? network;
                    bool ok = v6 ? IpAddressText.TryParseV6(networkText, out network) : IpAddressText.TryParseV4(networkText, out network);
                    if (!ok)
                    {
                        error = $"\"{term}\": invalid {(v6 ? "IPv6" : "IPv4")} network";
                        return null;
                    }
                    return v6 ? Make(SpfMechanismKind.Ip6, null, network, 32, cidr) : Make(SpfMechanismKind.Ip4, null, network, cidr);
                }
            default:
                error = $"\"{term}\": unknown mechanism";
                return null;
        }
    }

    /// <summary>
    /// Splits a trailing dual-cidr-length = [ "/" ip4-cidr ] [ "//" ip6-cidr ] from the argument of a or mx.
    /// A final "/" followed only by digits is a CIDR length; anything else stays in the domain-spec.
    /// </summary>
    private static bool TrySplitDualCidr(string arg, out string domainPart, out int cidr4, out int cidr6, out string? error)
    {
        cidr4 = 32;
        cidr6 = 128;
        error = null;
        domainPart = arg;
        if (TakeCidr(ref domainPart, out var digits))
        {
            bool isV6 = domainPart.EndsWith('/');
            if (isV6)
            {
                domainPart = domainPart[..^1];
                if (!IpAddressText.TryParsePrefix(digits, 128, out cidr6))
                {
                    error = $"invalid IPv6 CIDR length \"{digits}\"";
                    return false;
                }
                if (!TakeCidr(ref domainPart, out digits))
                    return true;
            }
            if (!IpAddressText.TryParsePrefix(digits, 32, out cidr4))
            {
                error = $"invalid IPv4 CIDR length \"{digits}\"";
                return false;
            }
        }
        return true;
    }

    private static bool TakeCidr(ref string text, out string digits)
    {
        digits = "";
        int slash = text.LastIndexOf('/');
        if (slash < 0 || slash == text.Length - 1)
            return false;
        for (int i = slash + 1; i < text.Length; i++)
        {
            if (!char.IsAsciiDigit(text[i])) return false;
        }
        digits = text[(slash + 1)..];
        text = text[..slash];
        return true;
    }
}
