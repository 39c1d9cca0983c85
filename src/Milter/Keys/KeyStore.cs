using Milter.Configuration;
using Milter.MailAuth.Dkim;

namespace Milter.Keys;

/// <summary>
/// The signing keys, parsed once at start-up (and on reload), each wrapped in a ready <see cref="DkimSigner"/>.
/// Signing a message does no key parsing and no file I/O. Private key material is never logged.
/// </summary>
public sealed class KeyStore
{
    private readonly Dictionary<string, List<DkimSigner>> _byDomain;

    private KeyStore(Dictionary<string, List<DkimSigner>> byDomain, bool subDomains)
    {
        _byDomain = byDomain;
        SubDomains = subDomains;
    }

    public bool SubDomains { get; }
    public int Count => _byDomain.Values.Sum(l => l.Count);
    public static KeyStore Empty { get; } = new(new Dictionary<string, List<DkimSigner>>(StringComparer.OrdinalIgnoreCase), false);

    /// <summary>Loads every configured key. Throws <see cref="ConfigException"/> with one line naming the file and the fix.</summary>
    public static KeyStore Load(SigningSection signing, TimeProvider time)
    {
        var byDomain = new Dictionary<string, List<DkimSigner>>(StringComparer.OrdinalIgnoreCase);
        // Validated with the config, but Load is also called on its own: never sign with a silent simple/simple.
        if (!DkimCanonicalizationNames.TryParsePair(signing.Canonicalization, out var headerC, out var bodyC))
            throw new ConfigException("Signing:Canonicalization", signing.Canonicalization, "use relaxed/relaxed, relaxed/simple, simple/relaxed or simple/simple");
        var keys = signing.Keys ?? [];
        for (var i = 0; i < keys.Length; i++)
        {
            var k = keys[i];
            var key = LoadKeyFile($"Signing:Keys:{i}:KeyFile", k.KeyFile!, signing.AllowGroupReadableKeys);
            if (!string.IsNullOrEmpty(k.Algorithm) && k.Algorithm != key.Algorithm)
                throw new ConfigException($"Signing:Keys:{i}:Algorithm", k.Algorithm, $"the key in {k.KeyFile} is a {key.Algorithm} key");
            DkimSigner signer;
            try
            {
                signer = new DkimSigner(new DkimSignerOptions
                {
                    Domain = k.Domain!.Trim().TrimEnd('.').ToLowerInvariant(),
                    Selector = k.Selector!.Trim(),
                    Key = key,
                    HeaderCanonicalization = headerC,
                    BodyCanonicalization = bodyC,
                    SignedHeaders = signing.SignHeaders is { Length: > 0 } ? signing.SignHeaders : null,
                    OversignedHeaders = signing.OversignHeaders,
                    SignatureLifetime = signing.SignatureLifetimeSeconds > 0 ? TimeSpan.FromSeconds(signing.SignatureLifetimeSeconds) : null,
                    TimeProvider = time,
                });
            }
            catch (ArgumentException e)
            {
                throw new ConfigException($"Signing:Keys:{i}", k.Domain, e.Message);
            }
            if (!byDomain.TryGetValue(signer.Options.Domain, out var list))
                byDomain[signer.Options.Domain] = list = new List<DkimSigner>();
            list.Add(signer);
        }
        return new KeyStore(byDomain, signing.SubDomains);
    }

    /// <summary>A private key file checked (owner, mode, size) and loaded, for DKIM signing and the ARC seal alike.
    /// Throws <see cref="ConfigException"/> naming <paramref name="configKey"/>.</summary>
    internal static DkimPrivateKey LoadKeyFile(string configKey, string path, bool allowGroupReadable)
    {
        var problem = KeyFileCheck.Problem(path, allowGroupReadable);
        if (problem is not null) throw new ConfigException(configKey, path, problem);
        string text;
        try
        {
            text = KeyFileCheck.ReadBounded(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(configKey, path, $"cannot read the key file: {e.Message}");
        }
        var loaded = DkimPrivateKey.Load(text);
        if (!loaded.Success)
            throw new ConfigException(configKey, path, $"not a usable private key: {loaded.Error}");
        return loaded.Key!;
    }

    /// <summary>The signers for an author domain: its own keys, or with SubDomains the nearest parent's.</summary>
    public IReadOnlyList<DkimSigner> SignersFor(string? domain)
    {
        if (string.IsNullOrEmpty(domain) || _byDomain.Count == 0) return [];
        domain = domain.TrimEnd('.');
        if (_byDomain.TryGetValue(domain, out var exact)) return exact;
        if (!SubDomains) return [];
        var dot = domain.IndexOf('.', StringComparison.Ordinal);
        while (dot >= 0)
        {
            domain = domain[(dot + 1)..];
            if (domain.Contains('.', StringComparison.Ordinal) && _byDomain.TryGetValue(domain, out var parent)) return parent;
            dot = domain.IndexOf('.', StringComparison.Ordinal);
        }
        return [];
    }
}
