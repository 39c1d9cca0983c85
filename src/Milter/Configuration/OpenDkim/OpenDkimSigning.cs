using Milter.Keys;
using Milter.MailAuth.Dkim;

namespace Milter.Configuration.OpenDkim;

/// <summary>
/// OpenDKIM's signing setup as Signing:Rules: KeyTable + SigningTable (opendkim.conf(5)), or Domain + Selector + KeyFile.
/// Every table line is checked now (start-up), so nothing turns into a silent "not signed" at run time: a KeyTable line
/// without its three fields, a SigningTable line naming a key the KeyTable lacks, a pattern that can never match, a
/// key file others may read (unless RequireSafeKeys is off) are errors naming the file and line.
/// </summary>
internal static class OpenDkimSigning
{
    private sealed record TableKey(string Name, SigningKeyOptions Key, OpenDkimSource Source);

    public static List<SigningRuleOptions> Rules(IReadOnlyDictionary<string, OpenDkimSetting> s, OpenDkimTranslation t, string? baseDirectory,
        bool requireSafeKeys, bool multiple, bool subDomains)
    {
        s.TryGetValue("KeyTable", out var keyTable);
        s.TryGetValue("SigningTable", out var signingTable);
        if (keyTable is not null)
        {
            foreach (var ignored in new[] { "Domain", "Selector", "KeyFile" })
            {
                if (s.TryGetValue(ignored, out var i)) t.Note(i, "ignored, as OpenDKIM does when a KeyTable is set");
            }
            if (signingTable is null)
                throw OpenDkimError.At(keyTable.Source, "KeyTable is set but SigningTable is not: nothing says which mail each key signs (SetupPolicyScript is not supported)");
            var keys = KeyTable(OpenDkimDataset.Read(keyTable, baseDirectory), baseDirectory, requireSafeKeys, t);
            var rules = SigningTable(OpenDkimDataset.Read(signingTable, baseDirectory), keys, multiple, t, signingTable);
            t.Note(keyTable, $"{keys.Count} key(s) read and checked");
            t.Note(signingTable, $"{rules.Count} rule(s) in Signing:Rules{(multiple ? ", each with Continue (MultipleSignatures)" : "")}");
            return rules;
        }
        if (signingTable is not null)
            throw OpenDkimError.At(signingTable.Source, "SigningTable is set but KeyTable is not: the table's key names mean nothing without it");
        if (!s.TryGetValue("Domain", out var domain) && !s.TryGetValue("KeyFile", out _) && !s.TryGetValue("Selector", out _))
            return [];
        foreach (var needed in new[] { "Domain", "Selector", "KeyFile" })
        {
            if (!s.ContainsKey(needed))
                throw OpenDkimError.At(s.Values.First(v => v.Name is "Domain" or "Selector" or "KeyFile").Source,
                    "single-key signing needs Domain, Selector and KeyFile together (or a KeyTable with a SigningTable); " + needed + " is missing");
        }
        var keyFileSetting = s["KeyFile"];
        var keyFile = OpenDkimDataset.Resolve(keyFileSetting.Value, baseDirectory);
        CheckKeyFile(keyFile, keyFileSetting.Source, requireSafeKeys);
        var selector = s["Selector"].Value;
        var domains = OpenDkimDataset.Read(domain!, baseDirectory).Entries.Select(e => e.Key.TrimEnd('.').ToLowerInvariant()).Distinct().ToList();
        var result = domains.Select(d => new SigningRuleOptions { From = [d], Keys = [new() { Domain = d, Selector = selector, KeyFile = keyFile }] }).ToList();
        if (subDomains)
        {
            // SubDomains: mail from below a listed domain is signed with d= the listed domain, the nearest one first.
            result.AddRange(domains.OrderByDescending(d => d.Length).Select(d =>
                new SigningRuleOptions { From = ["*." + d], Keys = [new() { Domain = d, Selector = selector, KeyFile = keyFile }] }));
        }
        t.Note(domain!, $"{domains.Count} domain(s) signed with selector {selector} and key file {keyFile}{(subDomains ? ", and their subdomains (SubDomains)" : "")}");
        return result;
    }

    /// <summary>KeyTable: NAME DOMAIN:SELECTOR:KEYFILE per line (DOMAIN "%" is the From domain; "%" in KEYFILE too).</summary>
    private static Dictionary<string, TableKey> KeyTable(OpenDkimDataset table, string? baseDirectory, bool requireSafeKeys, OpenDkimTranslation t)
    {
        var keys = new Dictionary<string, TableKey>(StringComparer.OrdinalIgnoreCase);
        foreach (var e in table.Entries)
        {
            var fields = (e.Value ?? "").Split(':', 3);
            if (fields.Length < 3 || fields.Any(f => f.Trim().Length == 0))
                // The value is not shown: a KeyTable may hold a private key inline (refused below), and it must never reach a log.
                throw OpenDkimError.At(e.Source, $"KeyTable entry \"{e.Key}\" needs DOMAIN:SELECTOR:KEYFILE, got {fields.Count(f => f.Trim().Length > 0)} of 3 fields");
            var (domain, selector, path) = (fields[0].Trim(), fields[1].Trim(), fields[2].Trim());
            if (!(path.StartsWith('/') || path.StartsWith("./", StringComparison.Ordinal) || path.StartsWith("../", StringComparison.Ordinal)))
                throw OpenDkimError.At(e.Source, $"KeyTable entry \"{e.Key}\" holds the private key itself; milter reads keys from files only: put it in a file (mode 0600) and give its path");
            path = OpenDkimDataset.Resolve(path, baseDirectory);
            if (!path.Contains('%', StringComparison.Ordinal) && CheckKeyFile(path, e.Source, requireSafeKeys) == DkimKeyType.Ed25519)
            {
                // OpenDKIM signs every key with SignatureAlgorithm (rsa-sha256 by default) and so fails on an Ed25519 key
                // (measured: it answers with On-SignatureError); milter signs it with ed25519-sha256 (RFC 8463).
                t.Warnings.Add($"opendkim: {e.Source}: key \"{e.Key}\" is an Ed25519 key: milter signs it with ed25519-sha256, where OpenDKIM 2.11 fails to sign with it (it applies SignatureAlgorithm to every key)");
            }
            if (!keys.ContainsKey(e.Key))
                keys[e.Key] = new TableKey(e.Key, new SigningKeyOptions { Domain = domain, Selector = selector, KeyFile = path }, e.Source);
        }
        return keys;
    }

    /// <summary>The key file checks of the daemon (<see cref="KeyFileCheck"/>) and a parse of the key, as an error naming the table line.</summary>
    private static DkimKeyType CheckKeyFile(string path, OpenDkimSource source, bool requireSafeKeys)
    {
        var problem = KeyFileCheck.Problem(path, allowGroupReadable: !requireSafeKeys);
        if (problem is not null)
            throw OpenDkimError.At(source, problem.Replace("or set Signing:AllowGroupReadableKeys=true", "or set RequireSafeKeys no", StringComparison.Ordinal));
        try
        {
            var loaded = DkimPrivateKey.Load(KeyFileCheck.ReadBounded(path));
            if (!loaded.Success) throw OpenDkimError.At(source, $"key file {path} is not a usable private key: {loaded.Error}");
            using var key = loaded.Key!;
            return key.KeyType;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OpenDkimError.At(source, $"cannot read key file {path}: {e.Message}");
        }
    }

    private static List<SigningRuleOptions> SigningTable(OpenDkimDataset table, Dictionary<string, TableKey> keys, bool multiple,
        OpenDkimTranslation t, OpenDkimSetting setting)
    {
        var ordered = table.IsRefile ? table.Entries.Select(e => (Entry: e, Pattern: e.Key, Group: 0)).ToList() : LookupOrder(table.Entries);
        var rules = new List<SigningRuleOptions>();
        foreach (var (e, pattern, _) in ordered)
        {
            if (string.IsNullOrWhiteSpace(e.Value))
                throw OpenDkimError.At(e.Source, $"SigningTable line \"{e.Key}\" names no key (expected PATTERN KEYNAME)");
            var fields = e.Value.Split(':', 2);
            var keyName = fields[0].Trim();
            if (fields.Length > 1 && fields[1].Trim().Length > 0)
                t.Warnings.Add($"opendkim: {e.Source}: the signer identity \"{fields[1].Trim()}\" (i=) is not supported: the signature carries no i= tag (the identity defaults to @d=)");
            var matchAddress = table.IsRefile && !SameAgainstDomain(pattern);
            if (table.IsRefile && !FromPattern.CanMatchAnAddress(pattern))
                throw OpenDkimError.At(e.Source, $"refile pattern \"{pattern}\" matches no address (it is matched against user@domain and has no '@' or '*'): write *@{pattern} or *.{pattern}");
            if (keyName == "%")
            {
                rules.AddRange(PercentRules(pattern, matchAddress, keys, multiple));
                t.Translated.Add($"SigningTable ({e.Source}): key name % expanded over the KeyTable entries it can name");
                continue;
            }
            if (!keys.TryGetValue(keyName, out var key))
                throw OpenDkimError.At(e.Source, $"SigningTable names the key \"{keyName}\", which the KeyTable does not have");
            rules.Add(new SigningRuleOptions { From = [pattern], MatchAddress = matchAddress, Keys = [key.Key], Continue = multiple });
        }
        return rules;
    }

    /// <summary>A refile pattern without '@' that starts with its only '*' matches an address exactly when it matches the
    /// domain (the '*' takes the local part and the '@'): Milter's domain pattern, no MatchAddress needed.</summary>
    private static bool SameAgainstDomain(string pattern)
        => pattern.Contains('@', StringComparison.Ordinal) || (pattern.StartsWith('*') && pattern.IndexOf('*', 1) < 0);

    /// <summary>
    /// The lines of a file: or csl: SigningTable in the order OpenDKIM looks them up for an address user@host
    /// (opendkim.conf(5) SigningTable): user@host, host, user@.domain (nearest parent first), .domain (nearest first),
    /// user@*, *. As rules: the exact forms as they are, ".domain" as "*.domain". A key with any other '*' is never looked
    /// up: an error, since that line could never sign (refile: is the table kind for wildcards).
    /// </summary>
    private static List<(OpenDkimEntry Entry, string Pattern, int Group)> LookupOrder(IReadOnlyList<OpenDkimEntry> entries)
    {
        var result = new List<(OpenDkimEntry Entry, string Pattern, int Group, int Order)>();
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var k = e.Key;
            var at = k.LastIndexOf('@');
            var local = at < 0 ? null : k[..at];
            var host = at < 0 ? k : k[(at + 1)..];
            (string Pattern, int Group) p;
            if (k == "*") p = ("*", 5);
            else if (local is not null && host == "*" && !local.Contains('*', StringComparison.Ordinal)) p = (k, 4);
            else if (k.Contains('*', StringComparison.Ordinal))
                throw OpenDkimError.At(e.Source, $"SigningTable key \"{k}\" is never looked up in a file: table (OpenDKIM looks up user@host, host, user@.domain, .domain, user@* and *); wildcards need refile:");
            else if (local is not null && host.StartsWith('.')) p = (local + "@*" + host, 2);
            else if (local is not null) p = (k, 0);
            else if (host.StartsWith('.')) p = ("*" + host, 3);
            else p = (host, 1);
            result.Add((e, p.Pattern, p.Group, i));
        }
        return result.OrderBy(x => x.Group).ThenBy(x => x.Group is 2 or 3 ? -x.Pattern.Length : 0).ThenBy(x => x.Order)
            .Select(x => (x.Entry, x.Pattern, x.Group)).ToList();
    }

    /// <summary>Key name "%": the KeyTable entry named by the From domain. One rule per KeyTable entry the pattern can reach.</summary>
    private static IEnumerable<SigningRuleOptions> PercentRules(string pattern, bool matchAddress, Dictionary<string, TableKey> keys, bool multiple)
    {
        foreach (var (name, key) in keys)
        {
            string? from = null;
            var at = pattern.LastIndexOf('@');
            if (at >= 0)
            {
                if (FromPattern.Glob(pattern[(at + 1)..], name)) from = pattern[..(at + 1)] + name;
            }
            else if ((!matchAddress || pattern.StartsWith('*')) && FromPattern.Glob(pattern, name))
            {
                from = name;
            }
            if (from is not null)
                yield return new SigningRuleOptions { From = [from], Keys = [key.Key], Continue = multiple };
        }
    }
}
