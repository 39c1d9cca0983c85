using System.Security.Cryptography;
using System.Text;
using Milter.TestKit.Peers;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>Messages signed by dkimpy once per test run (one python process), with fresh keys, and the DNS
/// records that go with them. The keys and jobs are made in the constructor, the signing in InitializeAsync.</summary>
public sealed class DkimpyCorpus : IAsyncLifetime
{
    /// <summary>Signing time of every signature (t=), unless a case says otherwise.</summary>
    public const long SignTime = 1_767_225_600; // 2026-01-01T00:00:00Z

    /// <summary>Verifier clock: one minute after signing.</summary>
    public const long VerifyTime = SignTime + 60;

    public static readonly string[] Canonicalizations = ["simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"];

    private readonly Dictionary<string, byte[]> _messages = [];

    private readonly List<(string Name, byte[] Message, IReadOnlyList<DkimPySignature> Sigs)> _jobs = [];

    public DkimpyCorpus()
    {
        using RSA rsa2048 = RSA.Create(2048);
        using RSA rsa1024 = RSA.Create(1024);
        using RSA rsa512 = RSA.Create(512);
        var ed = new Ed25519PrivateKeyParameters(new SecureRandom());
        Rsa2048PublicSpki = rsa2048.ExportSubjectPublicKeyInfo();
        Rsa2048PublicPkcs1 = rsa2048.ExportRSAPublicKey();
        Ed25519Public = ed.GeneratePublicKey().GetEncoded();
        string rsaPem = rsa2048.ExportRSAPrivateKeyPem();
        string edSeed = Convert.ToBase64String(ed.GetEncoded());

        RsaRecord = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(Rsa2048PublicSpki);
        EdRecord = "v=DKIM1; k=ed25519; p=" + Convert.ToBase64String(Ed25519Public);
        Records = new Dictionary<string, string>
        {
            ["rsa._domainkey.example.com"] = RsaRecord,
            ["ed._domainkey.example.com"] = EdRecord,
            ["ed._domainkey.example.org"] = EdRecord,
            ["rsa._domainkey.sub.example.com"] = RsaRecord,
            ["k1024._domainkey.example.com"] = "v=DKIM1; p=" + Convert.ToBase64String(rsa1024.ExportSubjectPublicKeyInfo()),
            ["short._domainkey.example.com"] = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(rsa512.ExportSubjectPublicKeyInfo()),
            ["strict._domainkey.example.com"] = "v=DKIM1; k=rsa; t=s; p=" + Convert.ToBase64String(Rsa2048PublicSpki),
            ["testing._domainkey.example.com"] = "v=DKIM1; t=y; k=rsa; p=" + Convert.ToBase64String(Rsa2048PublicSpki),
        };

        DkimPySignature Rsa(string c, string selector = "rsa", string domain = "example.com") =>
            new(selector, domain, rsaPem, "rsa-sha256", c, Time: SignTime);
        DkimPySignature Ed(string c, string domain = "example.com") =>
            new("ed", domain, edSeed, "ed25519-sha256", c, Time: SignTime);

        foreach (string c in Canonicalizations)
        {
            _jobs.Add(("pair " + c, PlainMessage, [Rsa(c), Ed(c)]));
            _jobs.Add(("pair-l " + c, PlainMessage, [Rsa(c) with { Length = true }, Ed(c) with { Length = true }]));
            _jobs.Add(("folded " + c, FoldedMessage, [Rsa(c), Ed(c)]));
            _jobs.Add(("empty-body " + c, EmptyBodyMessage, [Rsa(c), Ed(c)]));
        }
        _jobs.Add(("three-domains", PlainMessage,
            [Rsa("relaxed/relaxed"), Ed("simple/relaxed", "example.org"),
             Rsa("relaxed/simple", domain: "sub.example.com") with { Identity = "joe@sub.example.com" }]));
        _jobs.Add(("k1024", PlainMessage, [Rsa("relaxed/relaxed", "k1024") with { Key = rsa1024.ExportRSAPrivateKeyPem() }]));
        _jobs.Add(("rsa512", PlainMessage, [Rsa("relaxed/relaxed", "short") with { Key = rsa512.ExportRSAPrivateKeyPem() }]));
        _jobs.Add(("rsa-sha1", PlainMessage, [Rsa("relaxed/relaxed") with { Algorithm = "rsa-sha1" }]));
        _jobs.Add(("expired", PlainMessage,
            [Rsa("relaxed/relaxed") with { Time = SignTime - 3600, Extra = [("x", (SignTime - 1800).ToString())] }]));
        _jobs.Add(("expires-later", PlainMessage,
            [Rsa("relaxed/relaxed") with { Extra = [("x", (SignTime + 3600).ToString())] }]));
        _jobs.Add(("future", PlainMessage, [Rsa("relaxed/relaxed") with { Time = SignTime + 3600 }]));
        _jobs.Add(("identity-outside", PlainMessage, [Rsa("relaxed/relaxed") with { Identity = "@evilexample.com" }]));
        _jobs.Add(("strict-subdomain", PlainMessage, [Rsa("relaxed/relaxed", "strict") with { Identity = "joe@sub.example.com" }]));
        _jobs.Add(("strict-same", PlainMessage, [Rsa("relaxed/relaxed", "strict") with { Identity = "joe@example.com" }]));
        _jobs.Add(("testing", PlainMessage, [Rsa("relaxed/relaxed", "testing")]));
        _jobs.Add(("unknown-tag", PlainMessage, [Rsa("relaxed/relaxed") with { Extra = [("zz", "whatever value")] }]));
        _jobs.Add(("not-oversigned", PlainMessage,
            [Rsa("relaxed/relaxed") with { Headers = ["from", "to", "subject"] }]));
        _jobs.Add(("six", PlainMessage,
            [Rsa("relaxed/relaxed"), Ed("relaxed/relaxed"), Rsa("simple/simple"), Ed("simple/simple"),
             Rsa("relaxed/simple"), Ed("simple/relaxed")]));
    }

    /// <summary>Signs every job in one dkimpy process.</summary>
    public async Task InitializeAsync()
    {
        IReadOnlyList<byte[]> signed = await DkimPy.SignBatchAsync(_jobs.ConvertAll(j => (j.Message, j.Sigs)));
        for (int i = 0; i < _jobs.Count; i++)
        {
            _messages[_jobs[i].Name] = signed[i];
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public byte[] Rsa2048PublicSpki { get; }

    public byte[] Rsa2048PublicPkcs1 { get; }

    public byte[] Ed25519Public { get; }

    public string RsaRecord { get; }

    public string EdRecord { get; }

    public IReadOnlyDictionary<string, string> Records { get; }

    public byte[] this[string name] => _messages[name];

    public IEnumerable<string> Names => _messages.Keys;

    /// <summary>A resolver with every record of the corpus.</summary>
    internal InMemoryDnsResolver Dns()
    {
        var dns = new InMemoryDnsResolver();
        foreach (KeyValuePair<string, string> r in Records)
        {
            dns.AddTxt(r.Key, r.Value);
        }
        return dns;
    }

    private static byte[] PlainMessage => Crlf("""
        From: Joe SixPack <joe@example.com>
        To: Suzie Q <suzie@example.net>
        Subject: Is dinner  ready?
        Date: Fri, 11 Jul 2003 21:00:37 -0700
        Message-ID: <20030712040037.46341.5F8J@example.com>
        MIME-Version: 1.0
        Content-Type: text/plain; charset=us-ascii

        Hi.  
        
        We lost the game.	 Are you hungry yet?

        Joe.


        """);

    /// <summary>Ends with CRLF as every message through SMTP does: dkimpy keeps trailing WSP on a last line
    /// without CRLF under relaxed body canonicalization, where RFC 6376 3.4.4 removes it.</summary>
    private static byte[] FoldedMessage => Crlf("""
        From: "Joe SixPack"
         <joe@example.com>
        To: Suzie Q <suzie@example.net>,
        	Other <other@example.net>
        Subject:   A folded
           subject  line   
        Date: Fri, 11 Jul 2003 21:00:37 -0700
        Message-ID: <folded@example.com>

        Body line one
        Body line two with trailing space 

        """);

    private static byte[] EmptyBodyMessage => Crlf("""
        From: joe@example.com
        To: suzie@example.net
        Subject: empty


        """);

    private static byte[] Crlf(string text) => Encoding.ASCII.GetBytes(text.ReplaceLineEndings("\r\n"));
}
