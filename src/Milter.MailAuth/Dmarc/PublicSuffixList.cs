using System.Globalization;
using System.Text;

namespace Milter.MailAuth.Dmarc;

/// <summary>
/// The Public Suffix List (publicsuffix.org, the .dat format): normal rules, "*." wildcards, "!" exceptions, the
/// implicit "*" rule, ICANN and PRIVATE sections. Rules are stored as lower-case A-labels, so lookups take A-labels
/// (U-labels are converted). Used for the RFC 7489 Organizational Domain (RFC 7489 3.2). Immutable and thread-safe.
/// </summary>
public sealed class PublicSuffixList
{
    public const string EmbeddedResourceName = "Milter.MailAuth.Dmarc.Data.public_suffix_list.dat";
    private const int MaxRules = 100_000;
    private const int MaxLineLength = 1024;

    private static readonly Lazy<PublicSuffixList> EmbeddedList = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly IdnMapping Idn = new() { AllowUnassigned = true, UseStd3AsciiRules = false };

    // Keys: the rule without "!" or "*."; e.g. "co.uk", "ck" for "*.ck", "www.ck" for "!www.ck".
    private readonly HashSet<string> _rules = new(StringComparer.Ordinal);
    private readonly HashSet<string> _wildcards = new(StringComparer.Ordinal);
    private readonly HashSet<string> _exceptions = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _ruleLookup;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _wildcardLookup;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _exceptionLookup;

    private PublicSuffixList()
    {
        _ruleLookup = _rules.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardLookup = _wildcards.GetAlternateLookup<ReadOnlySpan<char>>();
        _exceptionLookup = _exceptions.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of rules loaded (normal, wildcard and exception).</summary>
    public int RuleCount => _rules.Count + _wildcards.Count + _exceptions.Count;

    /// <summary>The list shipped inside Milter (Data/public_suffix_list.dat), parsed once.</summary>
    public static PublicSuffixList Default => EmbeddedList.Value;

    /// <summary>Loads a list from a file (the replaceable copy). Throws for a missing or unusable file (a configuration error).</summary>
    public static PublicSuffixList Load(string path, bool includePrivateDomains = true)
    {
        using var reader = new StreamReader(path);
        return Parse(reader, includePrivateDomains);
    }

    /// <summary>Parses the .dat format. Throws <see cref="InvalidDataException"/> when no rule is found.</summary>
    public static PublicSuffixList Parse(TextReader reader, bool includePrivateDomains = true)
    {
        var list = new PublicSuffixList();
        bool privateSection = false;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            var text = line.AsSpan().Trim();
            if (text.StartsWith("//", StringComparison.Ordinal))
            {
                if (text.Contains("===BEGIN PRIVATE DOMAINS===", StringComparison.Ordinal)) privateSection = true;
                else if (text.Contains("===END PRIVATE DOMAINS===", StringComparison.Ordinal)) privateSection = false;
                continue;
            }
            if (text.IsEmpty || text.Length > MaxLineLength || (privateSection && !includePrivateDomains))
                continue;
            int space = text.IndexOfAny(' ', '\t');
            if (space >= 0)
                text = text[..space]; // a rule is the first whitespace-delimited token
            list.AddRule(text.ToString());
            if (list.RuleCount > MaxRules)
                throw new InvalidDataException($"public suffix list has more than {MaxRules} rules");
        }
        if (list.RuleCount == 0)
            throw new InvalidDataException("public suffix list holds no rules");
        return list;
    }

    private void AddRule(string rule)
    {
        var set = _rules;
        if (rule.StartsWith('!'))
        {
            set = _exceptions;
            rule = rule[1..];
        }
        else if (rule.StartsWith("*.", StringComparison.Ordinal))
        {
            set = _wildcards;
            rule = rule[2..];
        }
        if (ToALabels(rule) is { } name)
            set.Add(name);
    }

    private static string? ToALabels(string name)
    {
        name = name.Trim('.');
        if (name.Length == 0 || name.Contains('*'))
            return null; // only a leading "*." wildcard is defined
        try
        {
            return (Ascii.IsValid(name) ? name : Idn.GetAscii(name)).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The public suffix of a domain under the PSL algorithm: an exception rule prevails, else the matching rule
    /// with the most labels, else the implicit "*" (the last label). Null for an empty or invalid name or one
    /// with a leading dot.
    /// </summary>
    public string? GetPublicSuffix(string? domain)
    {
        var name = Prepare(domain);
        return name is null ? null : name[SuffixStart(name)..];
    }

    /// <summary>
    /// The registrable domain (the public suffix plus one label): the RFC 7489 Organizational Domain. Null when the
    /// name is null, empty, starts with a dot, is invalid, or is itself a public suffix.
    /// </summary>
    public string? GetRegistrableDomain(string? domain)
    {
        var name = Prepare(domain);
        if (name is null)
            return null;
        int start = SuffixStart(name);
        if (start == 0)
            return null;
        int labelStart = name.LastIndexOf('.', start - 2) + 1;
        return name[labelStart..];
    }

    /// <summary>RFC 7489 3.2 step 4 with the common fallback: the registrable domain, or the name itself when it
    /// is a public suffix. Null for an invalid name.</summary>
    public string? GetOrganizationalDomain(string? domain)
    {
        var name = Prepare(domain);
        return name is null ? null : GetRegistrableDomain(name) ?? name;
    }

    private static string? Prepare(string? domain)
    {
        if (string.IsNullOrEmpty(domain) || domain[0] == '.')
            return null;
        return DmarcDomain.Normalize(domain);
    }

    /// <summary>Index in <paramref name="name"/> where its public suffix begins.</summary>
    private int SuffixStart(string name)
    {
        var span = name.AsSpan();
        // Label start indexes, left to right.
        Span<int> starts = stackalloc int[128];
        int count = 0;
        starts[count++] = 0;
        for (int i = 0; i < span.Length && count < starts.Length; i++)
        {
            if (span[i] == '.')
                starts[count++] = i + 1;
        }
        // An exception rule prevails: the suffix is the rule minus its left-most label.
        for (int k = 0; k < count; k++)
        {
            if (_exceptionLookup.Contains(span[starts[k]..]))
                return k + 1 < count ? starts[k + 1] : starts[k];
        }
        // Otherwise the longest matching rule (first hit from the left). "*.x" matches any one label before x.
        for (int k = 0; k < count; k++)
        {
            if (_ruleLookup.Contains(span[starts[k]..]))
                return starts[k];
            if (k + 1 < count && _wildcardLookup.Contains(span[starts[k + 1]..]))
                return starts[k];
        }
        return starts[count - 1]; // the implicit "*" rule
    }

    private static PublicSuffixList LoadEmbedded()
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(EmbeddedResourceName)
            ?? throw new InvalidOperationException($"embedded resource {EmbeddedResourceName} is missing");
        using var reader = new StreamReader(stream);
        return Parse(reader);
    }
}
