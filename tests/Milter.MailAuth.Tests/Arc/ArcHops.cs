using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.DkimVerify;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>Builds ARC chains in memory: each hop verifies the message as it is, then seals it with its own key.</summary>
internal sealed class ArcHops : IDisposable
{
    public const string Unsigned =
        "From: Joe <joe@origin.example>\r\nTo: list@lists.example\r\nSubject: hello\r\nDate: Thu, 14 Jan 2015 15:00:01 -0800\r\n" +
        "Message-ID: <1@origin.example>\r\n\r\nHello list.\r\n";

    private readonly List<DkimPrivateKey> _keys = [];

    public InMemoryDnsResolver Dns { get; } = new();

    public DkimVerifier Verifier() => new(Dns);

    /// <summary>A sealer for <paramref name="domain"/> (selector "arc"), its key published in <see cref="Dns"/>.</summary>
    public ArcSealer Sealer(string domain, DkimKeyType type = DkimKeyType.Ed25519)
    {
        var key = DkimPrivateKey.Generate(type, 1024);
        _keys.Add(key);
        Dns.AddTxt("arc._domainkey." + domain, key.PublicKeyRecord);
        return new ArcSealer(new ArcSealerOptions { Domain = domain, Selector = "arc", Key = key });
    }

    /// <summary>One hop: verify, change the message (as a list does) when asked, then add the next set (AS on top).</summary>
    public async Task<(byte[] Message, ArcChainResult Arrived, ArcSealResult Seal)> HopAsync(byte[] message, ArcSealer sealer,
        Func<byte[], byte[]>? change = null, string? results = null)
    {
        var (_, arrived) = await ArcVerification.VerifyMessageAsync(Verifier(), message);
        if (change is not null) message = change(message);
        var parsed = RawMessageParser.Parse(message);
        using var body = new DkimBodyHasher(DkimCanonicalization.Relaxed);
        body.Append(parsed.Body.Span);
        var seal = sealer.Seal(parsed.Headers, body.Complete(), arrived.Result, results ?? $"{sealer.Options.Domain}; arc={arrived.Keyword}");
        if (!seal.Sealed) return (message, arrived, seal);
        var top = new StringBuilder();
        for (int i = seal.Headers.Count - 1; i >= 0; i--) top.Append(seal.Headers[i].Field).Append("\r\n");
        return ([.. Encoding.ASCII.GetBytes(top.ToString()), .. message], arrived, seal);
    }

    public async Task<ArcChainResult> VerifyAsync(byte[] message) => (await ArcVerification.VerifyMessageAsync(Verifier(), message)).Arc;

    public void Dispose()
    {
        foreach (var k in _keys) k.Dispose();
    }
}
