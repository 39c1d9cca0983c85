using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;

namespace Milter.Commands.Bench;

/// <summary>`milter bench --arc-hops N`: each pre-signed message gets N ARC sets before it is sent, as if N lists or
/// forwarders had passed it on (RFC 8617 5.1), so the filter verifies the chain on top of the DKIM signature. Every
/// hop seals with the bench's --key as d=--domain s=--selector: the key record the filter already resolves for the
/// DKIM signature serves the seals too (same record format), so no other record needs publishing.</summary>
internal static class BenchArcSealing
{
    public const int MaxHops = ArcFieldNames.MaxInstance;

    public static List<byte[]> SealAll(IEnumerable<byte[]> messages, string keyPath, DkimKeyArguments names, int hops)
    {
        using var key = KeyFile.Load("bench", keyPath);
        var sealer = new ArcSealer(new ArcSealerOptions { Domain = names.Domain, Selector = names.Selector, Key = key });
        var list = new List<byte[]>();
        foreach (var m in messages)
        {
            var message = m;
            for (int hop = 1; hop <= hops; hop++) message = Seal(sealer, message, hop == 1 ? ArcResult.None : ArcResult.Pass);
            list.Add(message);
        }
        return list;
    }

    /// <summary>One hop: the next set on top (AS first), its AAR saying what a hop would have found.</summary>
    private static byte[] Seal(ArcSealer sealer, byte[] message, ArcResult arrived)
    {
        var parsed = RawMessageParser.Parse(message);
        using var body = new DkimBodyHasher(DkimCanonicalization.Relaxed);
        body.Append(parsed.Body.Span);
        var cv = arrived == ArcResult.Pass ? "pass" : "none";
        var result = sealer.Seal(parsed.Headers, body.Complete(), arrived, $"{sealer.Options.Domain}; arc={cv}; dkim=pass header.d={sealer.Options.Domain}");
        if (!result.Sealed) throw new UsageException($"bench: cannot pre-seal a message: {result.Error ?? result.Skipped}");
        var top = new StringBuilder();
        for (int i = result.Headers.Count - 1; i >= 0; i--) top.Append(result.Headers[i].Field).Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(top.ToString()), .. message];
    }
}
