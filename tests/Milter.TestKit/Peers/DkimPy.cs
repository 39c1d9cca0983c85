using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Milter.TestKit.Peers;

/// <summary>One DKIM-Signature as dkimpy judged it (index 0 is the topmost signature).</summary>
public sealed record DkimPySignatureResult(int Index, bool Pass, string? Domain, string? Selector, string? Error);

/// <summary>dkimpy's verdicts on every signature of a message, and its log for failure messages.</summary>
public sealed record DkimPyVerification(IReadOnlyList<DkimPySignatureResult> Signatures, string Output)
{
    /// <summary>True when there is at least one signature and all pass.</summary>
    public bool Pass => Signatures.Count > 0 && Signatures.All(s => s.Pass);
}

/// <summary>
/// dkimpy (Debian python3-dkim, run with /usr/bin/python3) as an independent DKIM signer and verifier.
/// Verification looks up keys on a loopback DNS server (e.g. <see cref="Dns.KnotDnsServer"/>) with dnspython.
/// </summary>
public static class DkimPy
{
    public const string PythonPath = "/usr/bin/python3";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private const string SignScript = """
        import sys, dkim
        domain, selector, keyfile, canon, algorithm, headers = sys.argv[1:7]
        header_canon, body_canon = (canon.split("/") + ["simple"])[:2]
        include = [h.encode() for h in headers.split(":") if h] or None
        with open(keyfile, "rb") as f:
            key = f.read().strip()
        message = sys.stdin.buffer.read()
        signature = dkim.sign(message, selector.encode(), domain.encode(), key,
                              canonicalize=(header_canon.encode(), body_canon.encode()),
                              signature_algorithm=algorithm.encode(), include_headers=include)
        sys.stdout.buffer.write(signature)
        """;

    private const string VerifyScript = """
        import sys, json, logging, io, dkim
        import dns.message, dns.query, dns.rdatatype, dns.flags, dns.rcode
        port = int(sys.argv[1])
        def dnsfunc(name, timeout=5):
            qname = name.decode("ascii") if isinstance(name, bytes) else name
            query = dns.message.make_query(qname, dns.rdatatype.TXT)
            response = dns.query.udp(query, "127.0.0.1", port=port, timeout=timeout)
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(query, "127.0.0.1", port=port, timeout=timeout)
            for rrset in response.answer:
                if rrset.rdtype == dns.rdatatype.TXT:
                    return b"".join(list(rrset.items)[0].strings)
            return None
        log = io.StringIO()
        logger = logging.getLogger("dkimpy")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(logging.StreamHandler(log))
        message = sys.stdin.buffer.read()
        count = sum(1 for name, _ in dkim.DKIM(message).headers if name.lower() == b"dkim-signature")
        results = []
        for i in range(count):
            d = dkim.DKIM(message, logger=logger)
            error = None
            try:
                ok = bool(d.verify(idx=i, dnsfunc=dnsfunc))
            except Exception as e:
                ok, error = False, "%s: %s" % (type(e).__name__, e)
            text = lambda v: v.decode("ascii", "replace") if isinstance(v, bytes) else v
            results.append({"index": i, "pass": ok, "domain": text(d.domain), "selector": text(d.selector), "error": error})
        sys.stderr.write(log.getvalue())
        print(json.dumps(results))
        """;

    /// <summary>Signs with dkimpy and returns the message with its DKIM-Signature header on top.
    /// <paramref name="privateKey"/>: a PEM RSA key for rsa-sha256, or the base64 of the raw 32-byte
    /// Ed25519 private key for ed25519-sha256 (as dkimpy takes it). <paramref name="canonicalization"/>:
    /// "relaxed/simple" style. <paramref name="headers"/>: the h= list (null: dkimpy's default set).</summary>
    public static async Task<byte[]> SignAsync(byte[] message, string domain, string selector, string privateKey,
        string canonicalization = "relaxed/relaxed", string algorithm = "rsa-sha256", IEnumerable<string>? headers = null,
        CancellationToken ct = default)
    {
        ProcessRunner.Require(PythonPath, "python3");
        using var dir = new TempDir("dkimpy");
        string keyFile = dir.File("key");
        await File.WriteAllTextAsync(keyFile, privateKey, ct);
        var result = await ProcessRunner.RunAsync(PythonPath,
            ["-c", SignScript, domain, selector, keyFile, canonicalization, algorithm, string.Join(':', headers ?? [])],
            Timeout, message, null, ct);
        CheckModules(result);
        result.EnsureSuccess("dkimpy sign");
        byte[] signature = Encoding.ASCII.GetBytes(result.StdOut);
        return [.. signature, .. message];
    }

    /// <summary>Verifies every DKIM-Signature (each index on its own) with keys from the DNS server on
    /// 127.0.0.1:<paramref name="dnsServerPort"/>.</summary>
    public static async Task<DkimPyVerification> VerifyAsync(byte[] message, int dnsServerPort, CancellationToken ct = default)
    {
        ProcessRunner.Require(PythonPath, "python3");
        var result = await ProcessRunner.RunAsync(PythonPath,
            ["-c", VerifyScript, dnsServerPort.ToString(CultureInfo.InvariantCulture)], Timeout, message, null, ct);
        CheckModules(result);
        result.EnsureSuccess("dkimpy verify");
        string json = result.StdOut.Trim().Split('\n')[^1];
        var signatures = new List<DkimPySignatureResult>();
        foreach (var item in JsonDocument.Parse(json).RootElement.EnumerateArray())
        {
            signatures.Add(new DkimPySignatureResult(
                item.GetProperty("index").GetInt32(),
                item.GetProperty("pass").GetBoolean(),
                item.GetProperty("domain").GetString(),
                item.GetProperty("selector").GetString(),
                item.GetProperty("error").GetString()));
        }
        return new DkimPyVerification(signatures, result.Describe());
    }

    private static void CheckModules(ProcessResult result)
    {
        if (result.StdErr.Contains("No module named 'dkim'", StringComparison.Ordinal))
            throw new InvalidOperationException("dkimpy not found: install the Debian package python3-dkim (./test.sh does)\n" + result.Describe());
        if (result.StdErr.Contains("No module named 'dns'", StringComparison.Ordinal))
            throw new InvalidOperationException("dnspython not found: install the Debian package python3-dnspython (./test.sh does)\n" + result.Describe());
    }
}
