using System.Collections.Concurrent;
using Milter.Configuration;
using Milter.MailAuth.Dkim;

namespace Milter.Keys;

/// <summary>
/// The signing rules with their keys, parsed once at start-up (and on reload), each key wrapped in a ready
/// <see cref="DkimSigner"/>. <c>Signing:Rules</c> come first, in order; <c>Signing:Keys</c> (the simple form) is
/// translated into rules after them: one rule per domain, then with SubDomains one <c>*.domain</c> rule per domain,
/// nearest parent first. Signing a message does no key parsing and no file I/O, except for a key file named with
/// "%" (the From domain), read once on first use. Private key material is never logged.
/// </summary>
public sealed partial class KeyStore
{
    private const int MaxLazyKeys = 10_000;
    private readonly IReadOnlyList<Rule> _rules;
    private readonly SignerSettings _settings;
    private readonly ConcurrentDictionary<string, DkimPrivateKey> _lazyKeys = new(StringComparer.Ordinal);

    private KeyStore(IReadOnlyList<Rule> rules, SignerSettings settings, int count)
    {
        _rules = rules;
        _settings = settings;
        Count = count;
    }

    /// <summary>The number of distinct keys the rules name.</summary>
    public int Count { get; }
    public int RuleCount => _rules.Count;
    public static KeyStore Empty { get; } = new([], new SignerSettings(DkimCanonicalization.Relaxed, DkimCanonicalization.Relaxed, null, null, null, TimeProvider.System, false), 0);

    /// <summary>A rule as loaded: its patterns and keys; <see cref="Name"/> is its config key (Signing:Rules:0).</summary>
    public sealed record Rule(string Name, IReadOnlyList<string> From, bool MatchAddress, bool Continue, IReadOnlyList<RuleKey> Keys);

    /// <summary>A key of a rule: a ready signer, or (Domain "%" or "%" in the key file) what is needed to make one per message.</summary>
    public sealed record RuleKey(string Name, string Domain, string Selector, string KeyFile, DkimSigner? Signer, DkimPrivateKey? Key);

    private sealed record SignerSettings(DkimCanonicalization Header, DkimCanonicalization Body, IReadOnlyList<string>? SignHeaders,
        IReadOnlyList<string>? Oversign, TimeSpan? Lifetime, TimeProvider Time, bool AllowGroupReadable);

    public IReadOnlyList<Rule> Rules => _rules;

    /// <summary>The rules of a signing section in the order they are tried, each key with its config key name:
    /// Signing:Rules, then Signing:Keys translated (one code path for both forms).</summary>
    public static IReadOnlyList<(string Name, SigningRuleOptions Rule, string[] KeyNames)> EffectiveRules(SigningSection signing)
    {
        var result = new List<(string, SigningRuleOptions, string[])>();
        var rules = signing.Rules ?? [];
        for (var i = 0; i < rules.Length; i++)
            result.Add(($"Signing:Rules:{i}", rules[i], Enumerable.Range(0, rules[i].Keys?.Length ?? 0).Select(k => $"Signing:Rules:{i}:Keys:{k}").ToArray()));
        var keys = signing.Keys ?? [];
        var byDomain = new List<(string Domain, List<int> Indexes)>();
        for (var i = 0; i < keys.Length; i++)
        {
            var domain = (keys[i].Domain ?? "").Trim().TrimEnd('.').ToLowerInvariant();
            var group = byDomain.FindIndex(g => g.Domain == domain);
            if (group < 0) byDomain.Add((domain, [i]));
            else byDomain[group].Indexes.Add(i);
        }
        SigningRuleOptions RuleOf(string pattern, List<int> indexes) => new() { From = [pattern], Keys = indexes.Select(i => keys[i]).ToArray() };
        foreach (var (domain, indexes) in byDomain)
            result.Add(($"Signing:Keys:{indexes[0]}", RuleOf(domain, indexes), indexes.Select(i => $"Signing:Keys:{i}").ToArray()));
        if (signing.SubDomains)
        {
            foreach (var (domain, indexes) in byDomain.Where(g => g.Domain.Contains('.', StringComparison.Ordinal)).OrderByDescending(g => g.Domain.Length))
                result.Add(($"Signing:Keys:{indexes[0]}", RuleOf("*." + domain, indexes), indexes.Select(i => $"Signing:Keys:{i}").ToArray()));
        }
        return result;
    }

    /// <summary>Loads every configured key. Throws <see cref="ConfigException"/> with one line naming the file and the fix.</summary>
    public static KeyStore Load(SigningSection signing, TimeProvider time)
    {
        // Validated with the config, but Load is also called on its own: never sign with a silent simple/simple.
        if (!DkimCanonicalizationNames.TryParsePair(signing.Canonicalization, out var headerC, out var bodyC))
            throw new ConfigException("Signing:Canonicalization", signing.Canonicalization, "use relaxed/relaxed, relaxed/simple, simple/relaxed or simple/simple");
        var settings = new SignerSettings(headerC, bodyC, signing.SignHeaders is { Length: > 0 } ? signing.SignHeaders : null, signing.OversignHeaders,
            signing.SignatureLifetimeSeconds > 0 ? TimeSpan.FromSeconds(signing.SignatureLifetimeSeconds) : null, time, signing.AllowGroupReadableKeys);
        var loaded = new Dictionary<(string, string, string, string?), RuleKey>();
        var rules = new List<Rule>();
        foreach (var (name, rule, keyNames) in EffectiveRules(signing))
        {
            var ruleKeys = new List<RuleKey>();
            var keys = rule.Keys ?? [];
            for (var i = 0; i < keys.Length; i++)
            {
                var k = keys[i];
                var domain = (k.Domain ?? "").Trim().TrimEnd('.').ToLowerInvariant();
                var selector = (k.Selector ?? "").Trim();
                var file = k.KeyFile ?? "";
                var id = (domain, selector, file, k.Algorithm);
                if (!loaded.TryGetValue(id, out var ruleKey))
                    loaded[id] = ruleKey = LoadKey(keyNames[i], k, domain, selector, file, settings);
                ruleKeys.Add(ruleKey);
            }
            var from = (rule.From ?? []).Select(p => p.Trim()).Where(p => p.Length > 0).ToArray();
            rules.Add(new Rule(name, from, rule.MatchAddress, rule.Continue, ruleKeys));
        }
        return new KeyStore(rules, settings, loaded.Count);
    }

    private static RuleKey LoadKey(string name, SigningKeyOptions k, string domain, string selector, string file, SignerSettings settings)
    {
        if (file.Contains('%', StringComparison.Ordinal))
        {
            // Read per From domain on first use; the template itself must at least be a path.
            if (string.IsNullOrWhiteSpace(file)) throw new ConfigException(name + ":KeyFile", file, "a private key file is required");
            return new RuleKey(name, domain, selector, file, null, null);
        }
        var key = LoadKeyFile(name + ":KeyFile", file, settings.AllowGroupReadable);
        if (!string.IsNullOrEmpty(k.Algorithm) && k.Algorithm != key.Algorithm)
            throw new ConfigException($"{name}:Algorithm", k.Algorithm, $"the key in {file} is a {key.Algorithm} key");
        if (domain == "%") return new RuleKey(name, domain, selector, file, null, key);
        try
        {
            return new RuleKey(name, domain, selector, file, NewSigner(domain, selector, key, settings), key);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(name, k.Domain, e.Message);
        }
    }

    /// <summary>A private key file checked (owner, mode, size) and loaded, for DKIM signing and the ARC seal alike.
    /// Throws <see cref="ConfigException"/> naming <paramref name="keyName"/>.</summary>
    internal static DkimPrivateKey LoadKeyFile(string keyName, string file, bool allowGroupReadable)
    {
        var problem = KeyFileCheck.Problem(file, allowGroupReadable);
        if (problem is not null) throw new ConfigException(keyName, file, problem);
        string text;
        try
        {
            text = KeyFileCheck.ReadBounded(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(keyName, file, $"cannot read the key file: {e.Message}");
        }
        var loaded = DkimPrivateKey.Load(text);
        if (!loaded.Success)
            throw new ConfigException(keyName, file, $"not a usable private key: {loaded.Error}");
        return loaded.Key!;
    }

    private static DkimSigner NewSigner(string domain, string selector, DkimPrivateKey key, SignerSettings s) => new(new DkimSignerOptions
    {
        Domain = domain,
        Selector = selector,
        Key = key,
        HeaderCanonicalization = s.Header,
        BodyCanonicalization = s.Body,
        SignedHeaders = s.SignHeaders,
        OversignedHeaders = s.Oversign,
        SignatureLifetime = s.Lifetime,
        TimeProvider = s.Time,
    });

    /// <summary>The rules that match a From address (its domain when the address is unknown), in order: the first one,
    /// and the ones after it while a matching rule says Continue.</summary>
    public IReadOnlyList<Rule> MatchingRules(string? address, string? domain)
    {
        if (string.IsNullOrEmpty(domain) || _rules.Count == 0) return [];
        domain = domain.TrimEnd('.');
        var result = new List<Rule>();
        foreach (var rule in _rules)
        {
            if (!rule.From.Any(p => FromPattern.Matches(p, rule.MatchAddress, address, domain))) continue;
            result.Add(rule);
            if (!rule.Continue) break;
        }
        return result;
    }

    /// <summary>The signers for a From address: every key of every matching rule, each key once.
    /// Throws <see cref="ConfigException"/> when a key named with "%" cannot be read for this domain.</summary>
    public IReadOnlyList<DkimSigner> SignersFor(string? address, string? domain)
    {
        var signers = new List<DkimSigner>();
        var seen = new HashSet<(string, string, string)>();
        foreach (var rule in MatchingRules(address, domain))
        {
            foreach (var key in rule.Keys)
            {
                var signer = SignerOf(key, domain!.TrimEnd('.').ToLowerInvariant());
                if (seen.Add((signer.Options.Domain, signer.Options.Selector, signer.Options.Key.PublicKeyBase64)))
                    signers.Add(signer);
            }
        }
        return signers;
    }

    /// <summary>The signers for an author domain alone (patterns with an '@' do not match).</summary>
    public IReadOnlyList<DkimSigner> SignersFor(string? domain) => SignersFor(null, domain);

    private DkimSigner SignerOf(RuleKey key, string fromDomain)
    {
        if (key.Signer is not null) return key.Signer;
        var domain = key.Domain == "%" ? fromDomain : key.Domain;
        var dkimKey = key.Key ?? LazyKey(key.Name, key.KeyFile.Replace("%", fromDomain, StringComparison.Ordinal));
        try
        {
            return NewSigner(domain, key.Selector, dkimKey, _settings);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(key.Name, domain, e.Message);
        }
    }

    private DkimPrivateKey LazyKey(string name, string path)
    {
        if (_lazyKeys.TryGetValue(path, out var key)) return key;
        key = LoadKeyFile(name + ":KeyFile", path, _settings.AllowGroupReadable);
        if (_lazyKeys.Count < MaxLazyKeys) _lazyKeys.TryAdd(path, key);
        return key;
    }
}
