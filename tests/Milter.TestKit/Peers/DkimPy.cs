using System.Text;
using System.Text.Json;

namespace Milter.TestKit.Peers;

/// <summary>
/// dkimpy (Debian python3-dkim, run with /usr/bin/python3) as an independent DKIM signer and verifier: the one
/// place the tests run it. Every call is one python process; the batch calls take many messages at once
/// (fast for large corpora). Keys for verification come from a loopback DNS server (e.g.
/// <see cref="Dns.KnotDnsServer"/>, looked up with dnspython) or from an in-memory dictionary per message.
/// </summary>
public static class DkimPy
{
    public const string PythonPath = "/usr/bin/python3";
    private static readonly TimeSpan SingleTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan BatchTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Signs with dkimpy and returns the message with its DKIM-Signature header on top.
    /// <paramref name="privateKey"/>: a PEM RSA key for rsa-sha256, or the base64 of the raw 32-byte
    /// Ed25519 private key for ed25519-sha256 (as dkimpy takes it). <paramref name="canonicalization"/>:
    /// "relaxed/simple" style. <paramref name="headers"/>: the h= list (null or empty: dkimpy's default set).</summary>
    public static async Task<byte[]> SignAsync(byte[] message, string domain, string selector, string privateKey,
        string canonicalization = "relaxed/relaxed", string algorithm = "rsa-sha256", IEnumerable<string>? headers = null,
        CancellationToken ct = default)
    {
        string[]? include = headers?.ToArray() is { Length: > 0 } list ? list : null;
        var signature = new DkimPySignature(selector, domain, privateKey, algorithm, canonicalization, Headers: include);
        return (await RunSignAsync([(message, [signature])], SingleTimeout, ct))[0];
    }

    /// <summary>Signs many messages in one python process and returns them in job order; each message gets
    /// its signatures in order, each new one on top. Throws when dkimpy is missing or any job fails.</summary>
    public static Task<IReadOnlyList<byte[]>> SignBatchAsync(
        IReadOnlyList<(byte[] Message, IReadOnlyList<DkimPySignature> Signatures)> jobs, CancellationToken ct = default) =>
        RunSignAsync(jobs, BatchTimeout, ct);

    /// <summary>Verifies every DKIM-Signature (each index on its own) with keys from the DNS server on
    /// 127.0.0.1:<paramref name="dnsServerPort"/>.</summary>
    public static async Task<DkimPyVerification> VerifyAsync(byte[] message, int dnsServerPort, CancellationToken ct = default) =>
        (await RunVerifyAsync(dnsServerPort, [(message, null)], SizedTimeout(message), ct))[0];

    /// <summary>The single-message bound, plus 2 s per MB: python hashes a 50 MB message in several seconds on a quiet
    /// machine, and it took over a minute on this 2-core machine under a load of 30.</summary>
    private static TimeSpan SizedTimeout(byte[] message) => SingleTimeout + TimeSpan.FromSeconds(2.0 * message.Length / (1024 * 1024));

    /// <summary>Verifies many messages in one python process, every signature index on its own, each message
    /// with its own keys: TXT records by name (e.g. "sel._domainkey.example.com"); no DNS is used.
    /// Returns the verdicts in job order.</summary>
    public static Task<IReadOnlyList<DkimPyVerification>> VerifyBatchAsync(
        IReadOnlyList<(byte[] Message, IReadOnlyDictionary<string, string> Keys)> jobs, CancellationToken ct = default) =>
        RunVerifyAsync(null, [.. jobs.Select(j => (j.Message, (IReadOnlyDictionary<string, string>?)j.Keys))], BatchTimeout, ct);

    private static async Task<IReadOnlyList<byte[]>> RunSignAsync(
        IReadOnlyList<(byte[] Message, IReadOnlyList<DkimPySignature> Signatures)> jobs, TimeSpan timeout, CancellationToken ct)
    {
        byte[] input = WriteJson(w =>
        {
            w.WriteStartArray();
            foreach ((byte[] message, IReadOnlyList<DkimPySignature> signatures) in jobs)
            {
                w.WriteStartObject();
                w.WriteBase64String("msg", message);
                w.WriteStartArray("sigs");
                foreach (DkimPySignature s in signatures)
                    WriteSignature(w, s);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
        using JsonDocument output = await RunAsync(DkimPyScripts.Sign, input, "dkimpy sign", timeout, ct);
        var signed = new List<byte[]>();
        foreach (JsonElement job in output.RootElement.EnumerateArray())
        {
            string error = job.GetProperty("error").GetString() ?? "";
            if (error.Length > 0)
                throw new InvalidOperationException($"dkimpy could not sign job {signed.Count}: {error}");
            signed.Add(job.GetProperty("msg").GetBytesFromBase64());
        }
        return signed;
    }

    private static void WriteSignature(Utf8JsonWriter w, DkimPySignature s)
    {
        w.WriteStartObject();
        w.WriteString("selector", s.Selector);
        w.WriteString("domain", s.Domain);
        w.WriteString("key", s.Key);
        w.WriteString("alg", s.Algorithm);
        w.WriteString("c", s.Canonicalization);
        w.WriteBoolean("length", s.Length);
        w.WriteString("identity", s.Identity);
        if (s.Time is long t)
            w.WriteNumber("time", t);
        else
            w.WriteNull("time");
        w.WriteStartArray("extra");
        foreach ((string tag, string value) in s.Extra ?? [])
        {
            w.WriteStartArray();
            w.WriteStringValue(tag);
            w.WriteStringValue(value);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        if (s.Headers is null)
        {
            w.WriteNull("headers");
        }
        else
        {
            w.WriteStartArray("headers");
            foreach (string h in s.Headers)
                w.WriteStringValue(h);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static async Task<IReadOnlyList<DkimPyVerification>> RunVerifyAsync(int? dnsServerPort,
        IReadOnlyList<(byte[] Message, IReadOnlyDictionary<string, string>? Keys)> jobs, TimeSpan timeout, CancellationToken ct)
    {
        byte[] input = WriteJson(w =>
        {
            w.WriteStartObject();
            if (dnsServerPort is int port)
                w.WriteNumber("port", port);
            else
                w.WriteNull("port");
            w.WriteStartArray("jobs");
            foreach ((byte[] message, IReadOnlyDictionary<string, string>? keys) in jobs)
            {
                w.WriteStartObject();
                w.WriteBase64String("msg", message);
                if (keys is null)
                {
                    w.WriteNull("keys");
                }
                else
                {
                    w.WriteStartObject("keys");
                    foreach (KeyValuePair<string, string> record in keys)
                        w.WriteString(record.Key, record.Value);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        using JsonDocument output = await RunAsync(DkimPyScripts.Verify, input, "dkimpy verify", timeout, ct);
        return [.. output.RootElement.EnumerateArray().Select(ReadVerification)];
    }

    private static DkimPyVerification ReadVerification(JsonElement job)
    {
        var signatures = new List<DkimPySignatureResult>();
        var output = new StringBuilder();
        foreach (JsonElement item in job.GetProperty("signatures").EnumerateArray())
        {
            var s = new DkimPySignatureResult(
                item.GetProperty("index").GetInt32(),
                item.GetProperty("pass").GetBoolean(),
                item.GetProperty("domain").GetString(),
                item.GetProperty("selector").GetString(),
                item.GetProperty("error").GetString());
            signatures.Add(s);
            output.Append($"signature {s.Index} d={s.Domain} s={s.Selector}: {(s.Pass ? "pass" : "fail")} {s.Error}\n");
        }
        if (job.GetProperty("error").GetString() is string error)
            output.Append($"dkimpy could not read the message: {error}\n");
        output.Append("--- dkimpy log ---\n").Append(job.GetProperty("log").GetString());
        return new DkimPyVerification(signatures, output.ToString());
    }

    private static byte[] WriteJson(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            write(writer);
        return buffer.ToArray();
    }

    /// <summary>Runs <paramref name="script"/> with <paramref name="input"/> on stdin and parses the last line
    /// of its stdout as JSON; a missing python, dkimpy or dnspython fails with the Debian package to install.</summary>
    internal static async Task<JsonDocument> RunAsync(string script, byte[] input, string what, TimeSpan timeout, CancellationToken ct)
    {
        ProcessRunner.Require(PythonPath, "python3");
        var result = await ProcessRunner.RunAsync(PythonPath, ["-c", script], timeout, input, null, ct);
        CheckModules(result);
        result.EnsureSuccess(what);
        return JsonDocument.Parse(result.StdOut.Trim().Split('\n')[^1]);
    }

    private static void CheckModules(ProcessResult result)
    {
        if (result.StdErr.Contains("No module named 'dkim'", StringComparison.Ordinal))
            throw new InvalidOperationException("dkimpy not found: install the Debian package python3-dkim (./test.sh does)\n" + result.Describe());
        if (result.StdErr.Contains("No module named 'dns'", StringComparison.Ordinal))
            throw new InvalidOperationException("dnspython not found: install the Debian package python3-dnspython (./test.sh does)\n" + result.Describe());
    }
}
