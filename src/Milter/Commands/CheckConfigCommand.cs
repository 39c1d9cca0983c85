using Milter.Configuration;
using Milter.Keys;

namespace Milter.Commands;

/// <summary>
/// `milter check-config [--config FILE | --opendkim-config FILE] [--from ADDRESS]`: loads the config with its tables and
/// key files and the ARC seal key (Arc:Seal; any error: one line, exit 2), checks every key's DNS record as `testkey` does, warns when a rule signs From
/// domains with a d= that does not align with them (DMARC would not pass on that signature), shows which key signs a
/// sample address of each rule, and with --from the decision for one address. One line per finding; exit 0 all good,
/// 1 a key record is missing or wrong, 3 a DNS lookup failed temporarily.
/// </summary>
public static class CheckConfigCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var timeoutMs = cl.GetInt("timeout-ms", 15_000, 100, 600_000);
        var (options, warnings) = ConfigSources.Load(cl.Get("config"), cl.Get("opendkim-config"), listen: null, dnsServers: cl.Get("dns"));
        foreach (var w in warnings) Console.Out.WriteLine("warning: " + w);
        var store = KeyStore.Load(options.Signing, TimeProvider.System);
        Console.Out.WriteLine($"ok: config loaded: {store.RuleCount} signing rule(s), {store.Count} key(s)");
        // The seal key is loaded as the daemon loads it: owner/mode, file type, size and PEM checks (exit 2 on error).
        var sealer = ArcSealKey.Load(options, TimeProvider.System);
        if (sealer is not null)
            Console.Out.WriteLine($"ok: Arc:Seal seals as d={sealer.Options.Domain} s={sealer.Options.Selector} ({sealer.Options.Key.Algorithm})");

        var from = cl.Get("from");
        if (from is not null) Console.Out.WriteLine(Decision(store, from));
        foreach (var rule in store.Rules)
        {
            foreach (var pattern in rule.From)
            {
                Console.Out.WriteLine(Decision(store, SampleAddress(pattern), $"rule {rule.Name} ({pattern}): "));
                foreach (var key in rule.Keys.Where(k => k.Domain != "%" && !Aligned(pattern, k.Domain)))
                {
                    Console.Out.WriteLine($"warning: rule {rule.Name} signs From {pattern} with d={key.Domain}: not aligned with the From domain, " +
                                          "so DMARC cannot pass on this signature");
                }
            }
        }

        var code = Program.ExitOk;
        var resolver = CliDns.CreateResolver(options);
        var checkedKeys = new HashSet<(string, string, string)>();
        foreach (var key in store.Rules.SelectMany(r => r.Keys))
        {
            if (key.Key is null || key.Domain == "%")
            {
                Console.Out.WriteLine($"skipped: key {key.Name} ({key.Domain}/{key.Selector}, {key.KeyFile}) depends on the From domain (\"%\"); check it with --from");
                continue;
            }
            if (!checkedKeys.Add((key.Domain, key.Selector, key.KeyFile))) continue;
            var (result, line, warning) = await KeyRecordCheck.CheckRecordAsync(resolver, $"{key.Selector}._domainkey.{key.Domain}", key.Key, key.KeyFile, timeoutMs);
            if (warning is not null) Console.Out.WriteLine(warning);
            Console.Out.WriteLine(line);
            code = Worse(code, result);
        }
        if (sealer is not null)
        {
            var (result, line, warning) = await KeyRecordCheck.CheckRecordAsync(resolver,
                $"{sealer.Options.Selector}._domainkey.{sealer.Options.Domain}", sealer.Options.Key, options.Arc.Seal.KeyFile!, timeoutMs);
            if (warning is not null) Console.Out.WriteLine(warning);
            Console.Out.WriteLine("Arc:Seal: " + line);
            code = Worse(code, result);
        }
        return code;
    }

    /// <summary>Failures before temporary errors: a key record that is wrong stays wrong when DNS comes back.</summary>
    private static int Worse(int a, int b) => a == Program.ExitCheckFailed || b == Program.ExitCheckFailed
        ? Program.ExitCheckFailed : Math.Max(a, b);

    /// <summary>"from ADDRESS: signed with d=D s=S (ALGORITHM)" per signature, or "not signed".</summary>
    private static string Decision(KeyStore store, string address, string prefix = "")
    {
        var at = address.LastIndexOf('@');
        var domain = at < 0 ? address : address[(at + 1)..];
        try
        {
            var signers = store.SignersFor(at < 0 ? null : address, domain);
            if (signers.Count == 0) return $"{prefix}from {address}: not signed (no rule matches)";
            return $"{prefix}from {address}: signed with " + string.Join(", ", signers.Select(s => $"d={s.Options.Domain} s={s.Options.Selector} ({s.Options.Key.Algorithm})"));
        }
        catch (ConfigException e)
        {
            return $"{prefix}from {address}: error: {e.Message}";
        }
    }

    /// <summary>An address the pattern matches: '*' as "x", a domain pattern with the local part "user".</summary>
    internal static string SampleAddress(string pattern)
    {
        var sample = pattern.Replace("*", "x", StringComparison.Ordinal);
        return sample.Contains('@', StringComparison.Ordinal) ? sample : "user@" + sample.TrimStart('.');
    }

    /// <summary>Whether d= can align with the From domains of a pattern (DMARC relaxed alignment, RFC 7489 3.1.1, judged
    /// by the names alone: the same domain, or one below the other). A pattern matching any domain ("*") aligns only by chance.</summary>
    internal static bool Aligned(string pattern, string d)
    {
        var at = pattern.LastIndexOf('@');
        var domain = (at < 0 ? pattern : pattern[(at + 1)..]).ToLowerInvariant();
        while (domain.StartsWith('*') || domain.StartsWith('.')) domain = domain[1..];
        if (domain.Length == 0 || domain.Contains('*', StringComparison.Ordinal)) return false;
        d = d.ToLowerInvariant();
        return domain == d || domain.EndsWith("." + d, StringComparison.Ordinal) || d.EndsWith("." + domain, StringComparison.Ordinal);
    }
}
