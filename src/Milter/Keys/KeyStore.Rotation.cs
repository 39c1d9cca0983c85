using Milter.MailAuth.Dkim;

namespace Milter.Keys;

public sealed partial class KeyStore
{
    /// <summary>Key rotation: the rule keys of <paramref name="Domain"/> holding an <paramref name="Algorithm"/> key sign with
    /// this key and selector instead (the rotation state file's active key).</summary>
    public sealed record KeySwap(string Domain, string Algorithm, string Selector, string KeyFile, DkimPrivateKey Key);

    /// <summary>The same rules with the swapped keys; this store when nothing changes. Keys named with "%" are never swapped.</summary>
    public KeyStore WithSwaps(IReadOnlyCollection<KeySwap> swaps)
    {
        ArgumentNullException.ThrowIfNull(swaps);
        if (swaps.Count == 0) return this;
        var changed = false;
        var rules = new List<Rule>(_rules.Count);
        foreach (var rule in _rules)
        {
            var keys = rule.Keys.Select(k =>
            {
                var swapped = Swap(k, swaps);
                changed |= !ReferenceEquals(swapped, k);
                return swapped;
            }).ToList();
            rules.Add(rule with { Keys = keys });
        }
        return changed ? new KeyStore(rules, _settings, Count) : this;
    }

    private RuleKey Swap(RuleKey key, IReadOnlyCollection<KeySwap> swaps)
    {
        if (!IsRotatable(key)) return key;
        var swap = swaps.FirstOrDefault(s => s.Domain == key.Domain && s.Algorithm == key.Key!.Algorithm);
        if (swap is null || (swap.Selector == key.Selector && swap.Key.PublicKeyBase64 == key.Key!.PublicKeyBase64)) return key;
        return key with { Selector = swap.Selector, KeyFile = swap.KeyFile, Key = swap.Key, Signer = NewSigner(key.Domain, swap.Selector, swap.Key, _settings) };
    }

    /// <summary>A key rotation can replace: a loaded key of a fixed domain (not "%", no "%" in its file).</summary>
    public static bool IsRotatable(RuleKey key) => key.Key is not null && key.Domain != "%" && !key.KeyFile.Contains('%', StringComparison.Ordinal);

    /// <summary>The distinct rotatable keys of <paramref name="domain"/> (as configured, or as swapped), first of each first.</summary>
    public IReadOnlyList<RuleKey> RotatableKeys(string domain)
        => _rules.SelectMany(r => r.Keys).Where(k => IsRotatable(k) && k.Domain == domain)
            .DistinctBy(k => (k.Selector, k.KeyFile, k.Key!.Algorithm)).ToList();

    /// <summary>Every domain with a rotatable key, in rule order.</summary>
    public IReadOnlyList<string> RotatableDomains()
        => _rules.SelectMany(r => r.Keys).Where(IsRotatable).Select(k => k.Domain).Distinct(StringComparer.Ordinal).ToList();
}
