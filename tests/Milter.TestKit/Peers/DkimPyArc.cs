using System.Text.Json;

namespace Milter.TestKit.Peers;

/// <summary>dkimpy's ARC (arc_sign / arc_verify; python3-dkim with python3-authres) as an independent implementation,
/// keys from an in-memory dictionary (name -> TXT record). One python process per batch.</summary>
public static class DkimPyArc
{
    /// <summary>The cv dkimpy finds ("pass", "fail", "none") for each message, with its reason.</summary>
    public static async Task<IReadOnlyList<(string Cv, string Reason)>> VerifyBatchAsync(IReadOnlyList<byte[]> messages,
        IReadOnlyDictionary<string, string> keys, CancellationToken ct = default)
    {
        var input = JsonSerializer.SerializeToUtf8Bytes(new { keys, msgs = messages.Select(Convert.ToBase64String).ToList() });
        using var doc = await DkimPy.RunAsync(VerifyScript, input, "dkimpy arc_verify", TimeSpan.FromMinutes(2), ct);
        return doc.RootElement.EnumerateArray().Select(e => (e[0].GetString()!, e[1].GetString()!)).ToList();
    }

    /// <summary>Seals each message <c>hops[i]</c> times with dkimpy (sealer j of <paramref name="sealers"/> for hop j):
    /// each hop verifies, writes "Authentication-Results: SEALER; arc=CV" on top and arc_signs with that srv-id.</summary>
    public static async Task<IReadOnlyList<byte[]>> SealBatchAsync(IReadOnlyList<(byte[] Message, int Hops)> jobs,
        IReadOnlyList<(string Domain, string Selector, string PrivateKeyPem)> sealers, IReadOnlyDictionary<string, string> keys,
        CancellationToken ct = default)
    {
        var input = JsonSerializer.SerializeToUtf8Bytes(new
        {
            keys,
            sealers = sealers.Select(s => new[] { s.Domain, s.Selector, s.PrivateKeyPem }).ToList(),
            jobs = jobs.Select(j => new { msg = Convert.ToBase64String(j.Message), hops = j.Hops }).ToList(),
        });
        using var doc = await DkimPy.RunAsync(SealScript, input, "dkimpy arc_sign", TimeSpan.FromMinutes(2), ct);
        return doc.RootElement.EnumerateArray().Select(e => Convert.FromBase64String(e.GetString()!)).ToList();
    }

    private const string Common = """
        import sys, json, base64
        import dkim
        req = json.load(sys.stdin)
        keys = req['keys']
        def dnsfunc(name, timeout=5):
            n = (name.decode('ascii') if isinstance(name, bytes) else name).rstrip('.')
            v = keys.get(n)
            return v.encode() if v is not None else None
        """;

    private const string VerifyScript = Common + "\n" + """
        out = []
        for m in req['msgs']:
            cv, results, reason = dkim.arc_verify(base64.b64decode(m), dnsfunc=dnsfunc)
            out.append([cv.decode() if isinstance(cv, bytes) else str(cv), str(reason)])
        print(json.dumps(out))
        """;

    private const string SealScript = Common + "\n" + """
        out = []
        for job in req['jobs']:
            msg = base64.b64decode(job['msg'])
            for hop in range(job['hops']):
                d, s, k = req['sealers'][hop]
                cv = dkim.arc_verify(msg, dnsfunc=dnsfunc)[0]
                cv = cv.decode() if isinstance(cv, bytes) else str(cv)
                msg = ('Authentication-Results: %s; arc=%s\r\n' % (d, cv)).encode() + msg
                sig = dkim.arc_sign(msg, s.encode(), d.encode(), k.encode(), d.encode(),
                                    include_headers=[b'from', b'to', b'subject', b'date', b'message-id'], timestamp=1767225600)
                msg = b''.join(sig) + msg
            out.append(base64.b64encode(msg).decode())
        print(json.dumps(out))
        """;
}
