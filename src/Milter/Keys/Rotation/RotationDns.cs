using Milter.Configuration;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;

namespace Milter.Keys.Rotation;

/// <summary>Whether a pending key's record is served: looked up on every configured resolver on its own (Dns:Servers, each
/// without the others as fallback and without a cache; the system resolver when none is configured), each answer compared
/// with the key as `milter testkey` does (<see cref="KeyRecordCheck.CheckRecordAsync"/>).</summary>
internal static class RotationDns
{
    /// <summary>One resolver's answer: <see cref="Code"/> 0 served and matching, 1 missing or wrong, 3 temporary failure.</summary>
    public sealed record Answer(string Resolver, int Code, string Line)
    {
        public bool Served => Code == Program.ExitOk;
    }

    public static IReadOnlyList<(string Name, IDnsResolver Resolver)> Resolvers(MilterOptions options)
    {
        var o = options.ToDnsResolverOptions() with { CacheEntries = 0 };
        if (o.Servers.Count == 0) return [("the system resolver", new DnsClientResolver(o))];
        return o.Servers.Select(s => (s, (IDnsResolver)new DnsClientResolver(o with { Servers = [s] }))).ToList();
    }

    public static async Task<IReadOnlyList<Answer>> CheckAsync(IReadOnlyList<(string Name, IDnsResolver Resolver)> resolvers,
        string domain, string selector, DkimPrivateKey key, string keyFile, int timeoutMs)
    {
        var name = $"{selector}._domainkey.{domain}";
        var answers = await Task.WhenAll(resolvers.Select(async r =>
        {
            var (code, line, _) = await KeyRecordCheck.CheckRecordAsync(r.Resolver, name, key, keyFile, timeoutMs);
            return new Answer(r.Name, code, line);
        }));
        return answers;
    }

    /// <summary>True when every resolver served the matching record.</summary>
    public static bool AllServed(IReadOnlyList<Answer> answers) => answers.Count > 0 && answers.All(a => a.Served);
}
