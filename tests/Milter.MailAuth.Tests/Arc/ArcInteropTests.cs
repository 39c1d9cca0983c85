using System.Security.Cryptography;
using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Tests.DkimVerify;
using Milter.TestKit.Peers;
using MimeKit;
using ArcVerifier = MimeKit.Cryptography.ArcVerifier;
using ArcSignatureValidationResult = MimeKit.Cryptography.ArcSignatureValidationResult;
using DkimPublicKeyLocatorBase = MimeKit.Cryptography.DkimPublicKeyLocatorBase;
using Org.BouncyCastle.Crypto;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>Cross-check with two independent ARC implementations, dkimpy (python3-dkim) and MimeKit's ArcVerifier, on
/// a corpus of 50 messages with 1 to 3 hops: Milter's seals verify in both, dkimpy's and MimeKit's seals verify in Milter. Keys
/// come from memory (no DNS).</summary>
public sealed class ArcInteropTests
{
    private const int Corpus = 50;

    private static readonly string[] Domains = ["lists.example", "forward.example", "mx.example"];

    private sealed class Keys : IDisposable
    {
        public readonly List<(string Domain, string Selector, string Pem)> Sealers = [];
        public readonly Dictionary<string, string> Records = [];
        public readonly List<DkimPrivateKey> Private = [];

        public Keys()
        {
            foreach (var d in Domains)
            {
                using var rsa = RSA.Create(2048);
                var pem = rsa.ExportRSAPrivateKeyPem();
                var key = DkimPrivateKey.Load(pem).Key!;
                Private.Add(key);
                Sealers.Add((d, "arc", pem));
                Records["arc._domainkey." + d] = key.PublicKeyRecord;
            }
        }

        public void Dispose() => Private.ForEach(k => k.Dispose());
    }

    private static byte[] Message(int i) => Encoding.ASCII.GetBytes(
        $"From: Joe <joe@origin.example>\r\nTo: list@lists.example\r\nSubject: message {i}\r\nDate: Thu, 14 Jan 2015 15:00:01 -0800\r\n" +
        $"Message-ID: <{i}@origin.example>\r\n\r\n" + string.Concat(Enumerable.Range(0, i % 7 + 1).Select(l => $"line {l}  of message {i} \r\n")));

    private static int Hops(int i) => i % 3 + 1;

    [Fact]
    public async Task Milter_seals_verify_in_dkimpy_and_in_MimeKit()
    {
        using var keys = new Keys();
        var dns = new InMemoryDnsResolver();
        foreach (var (name, record) in keys.Records) dns.AddTxt(name, record);
        var sealers = keys.Private.Select((k, j) => new ArcSealer(new ArcSealerOptions { Domain = Domains[j], Selector = "arc", Key = k })).ToList();
        var corpus = new List<byte[]>();
        for (int i = 0; i < Corpus; i++)
        {
            var message = Message(i);
            for (int hop = 0; hop < Hops(i); hop++) message = await SealAsync(dns, sealers[hop], message);
            corpus.Add(message);
        }

        var dkimpy = await DkimPyArc.VerifyBatchAsync(corpus, keys.Records);
        for (int i = 0; i < Corpus; i++) Assert.True(dkimpy[i].Cv == "pass", $"message {i}: dkimpy says {dkimpy[i].Cv}: {dkimpy[i].Reason}");

        var mimeKit = new ArcVerifier(new Locator(keys.Records));
        for (int i = 0; i < Corpus; i++)
        {
            var result = await mimeKit.VerifyAsync(MimeMessage.Load(new MemoryStream(corpus[i])));
            Assert.True(result.Chain == ArcSignatureValidationResult.Pass, $"message {i}: MimeKit says {result.Chain}");
        }
    }

    [Fact]
    public async Task Dkimpy_seals_verify_in_Milter()
    {
        using var keys = new Keys();
        var dns = new InMemoryDnsResolver();
        foreach (var (name, record) in keys.Records) dns.AddTxt(name, record);
        var jobs = Enumerable.Range(0, Corpus).Select(i => (Message(i), Hops(i))).ToList();
        var corpus = await DkimPyArc.SealBatchAsync(jobs, keys.Sealers, keys.Records);
        for (int i = 0; i < Corpus; i++)
        {
            var (_, arc) = await ArcVerification.VerifyMessageAsync(new DkimVerifier(dns), corpus[i]);
            Assert.True(arc.Result == ArcResult.Pass, $"message {i}: {arc.Reason}");
            Assert.Equal(Hops(i), arc.Instances);
            Assert.Equal(Domains.Take(Hops(i)), arc.Sealers);
        }
    }

    /// <summary>MimeKit's ArcSigner seals (RSA, relaxed/relaxed, 1 to 3 hops, a footer added at some hops as a list
    /// does) verify in Milter: the chain passes with every sealer named, oldest-pass moving past a changed body.</summary>
    [Fact]
    public async Task MimeKit_seals_verify_in_Milter()
    {
        using var keys = new Keys();
        var dns = new InMemoryDnsResolver();
        foreach (var (name, record) in keys.Records) dns.AddTxt(name, record);
        for (int i = 0; i < Corpus; i++)
        {
            var message = Message(i);
            int footerAt = i % 4 == 3 ? 1 : 0; // a footer added before the second seal of some messages
            for (int hop = 0; hop < Hops(i); hop++)
            {
                // A list verifies what arrived, then changes it, then seals.
                var (_, arrived) = await ArcVerification.VerifyMessageAsync(new DkimVerifier(dns), message);
                if (hop == footerAt && footerAt > 0) message = [.. message, .. Encoding.ASCII.GetBytes("-- \r\nlist footer\r\n")];
                var (domain, selector, pem) = keys.Sealers[hop];
                using var pemStream = new MemoryStream(Encoding.ASCII.GetBytes(pem));
                var signer = new MimeKitSealer(pemStream, domain, selector, arrived.Keyword).Relaxed();
                var mime = MimeMessage.Load(new MemoryStream(message));
                await signer.SignAsync(mime, [HeaderId.From, HeaderId.To, HeaderId.Subject, HeaderId.Date, HeaderId.MessageId]);
                using var output = new MemoryStream();
                await mime.WriteToAsync(Dos, output);
                message = output.ToArray();
            }
            var (_, arc) = await ArcVerification.VerifyMessageAsync(new DkimVerifier(dns), message);
            Assert.True(arc.Result == ArcResult.Pass, $"message {i} ({Hops(i)} hops): {arc.Reason}");
            Assert.Equal(Hops(i), arc.Instances);
            Assert.Equal(Domains.Take(Hops(i)), arc.Sealers);
            Assert.Equal(footerAt > 0 && Hops(i) > footerAt ? footerAt + 1 : 0, arc.OldestPass);
        }
    }

    private static readonly FormatOptions Dos = new() { NewLineFormat = NewLineFormat.Dos };

    /// <summary>MimeKit's ArcSigner with an AAR that carries the arriving chain's verdict (MimeKit takes cv= from it).</summary>
    private sealed class MimeKitSealer(Stream pem, string domain, string selector, string arrived)
        : MimeKit.Cryptography.ArcSigner(pem, domain, selector)
    {
        public MimeKitSealer Relaxed()
        {
            HeaderCanonicalizationAlgorithm = MimeKit.Cryptography.DkimCanonicalizationAlgorithm.Relaxed;
            BodyCanonicalizationAlgorithm = MimeKit.Cryptography.DkimCanonicalizationAlgorithm.Relaxed;
            return this;
        }

        protected override MimeKit.Cryptography.AuthenticationResults GenerateArcAuthenticationResults(FormatOptions options, MimeMessage message,
            CancellationToken cancellationToken)
        {
            var results = new MimeKit.Cryptography.AuthenticationResults(Domain);
            results.Results.Add(new MimeKit.Cryptography.AuthenticationMethodResult("arc", arrived));
            return results;
        }

        protected override Task<MimeKit.Cryptography.AuthenticationResults> GenerateArcAuthenticationResultsAsync(FormatOptions options,
            MimeMessage message, CancellationToken cancellationToken) =>
            Task.FromResult(GenerateArcAuthenticationResults(options, message, cancellationToken));
    }

    /// <summary>One hop as the filter makes it: verify, our A-R on top, then the set.</summary>
    private static async Task<byte[]> SealAsync(InMemoryDnsResolver dns, ArcSealer sealer, byte[] message)
    {
        var (_, arrived) = await ArcVerification.VerifyMessageAsync(new DkimVerifier(dns), message);
        var results = $"{sealer.Options.Domain}; arc={arrived.Keyword}";
        message = [.. Encoding.ASCII.GetBytes("Authentication-Results: " + results + "\r\n"), .. message];
        var parsed = RawMessageParser.Parse(message);
        using var body = new DkimBodyHasher(DkimCanonicalization.Relaxed);
        body.Append(parsed.Body.Span);
        var seal = sealer.Seal(parsed.Headers, body.Complete(), arrived.Result, results);
        Assert.True(seal.Sealed, seal.Error ?? seal.Skipped);
        var top = string.Concat(seal.Headers.Reverse().Select(h => h.Field + "\r\n"));
        return [.. Encoding.ASCII.GetBytes(top), .. message];
    }

    private sealed class Locator(IReadOnlyDictionary<string, string> records) : DkimPublicKeyLocatorBase
    {
        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default)
            => GetPublicKey(records[$"{selector}._domainkey.{domain}"]);

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default)
            => Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }
}
