using System.Diagnostics;
using System.Text.Json;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>One signature dkimpy adds to a message.</summary>
/// <param name="Key">PEM (RSA) or base64 seed (Ed25519)</param>
/// <param name="Canonicalization">"header/body"</param>
/// <param name="Time">signing time (t=), null for the real clock</param>
/// <param name="Extra">extra tags inserted before b= (e.g. x=)</param>
/// <param name="Headers">h= names (null: dkimpy's default, which over-signs From)</param>
internal sealed record DkimpySignature(
    string Selector,
    string Domain,
    string Key,
    string Algorithm,
    string Canonicalization,
    bool Length = false,
    string? Identity = null,
    long? Time = null,
    IReadOnlyList<(string Tag, string Value)>? Extra = null,
    IReadOnlyList<string>? Headers = null);

/// <summary>Signs a batch of messages with dkimpy (python3-dkim) in ONE python process: JSON file in, JSON out.
/// Each message gets its signatures in order, each new one on top.</summary>
internal static class DkimpySigner
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys, json, base64, time
        import dkim
        extra = []
        original_gen_header = dkim.DKIM.gen_header
        def gen_header(self, fields, *args, **kwargs):
            if extra:
                fields = list(fields[:-1]) + extra + list(fields[-1:])
            return original_gen_header(self, fields, *args, **kwargs)
        dkim.DKIM.gen_header = gen_header
        real_time = time.time
        out = []
        for job in json.load(open(sys.argv[1])):
            try:
                msg = base64.b64decode(job['msg'])
                for s in job['sigs']:
                    extra[:] = [(k.encode(), v.encode()) for k, v in s['extra']]
                    t = s['time']
                    time.time = (lambda t=t: float(t)) if t is not None else real_time
                    hc, bc = s['c'].split('/')
                    kw = {}
                    if s['identity'] is not None:
                        kw['identity'] = s['identity'].encode()
                    if s['headers'] is not None:
                        kw['include_headers'] = [h.encode() for h in s['headers']]
                    sig = dkim.sign(msg, s['selector'].encode(), s['domain'].encode(), s['key'].encode(),
                                    canonicalize=(hc.encode(), bc.encode()), signature_algorithm=s['alg'].encode(),
                                    length=s['length'], **kw)
                    msg = sig + msg
                out.append({'msg': base64.b64encode(msg).decode(), 'error': ''})
            except Exception as e:
                out.append({'msg': '', 'error': repr(e)})
            finally:
                time.time = real_time
        json.dump(out, open(sys.argv[2], 'w'))
        """;

    /// <summary>Returns the signed messages in job order; throws when python3-dkim is missing or a job fails.</summary>
    public static IReadOnlyList<byte[]> Sign(IReadOnlyList<(byte[] Message, IReadOnlyList<DkimpySignature> Signatures)> jobs)
    {
        if (!File.Exists(Python))
        {
            throw new InvalidOperationException($"{Python} is missing: install python3 and python3-dkim (dkimpy) to run these tests.");
        }
        string input = Path.Combine(Path.GetTempPath(), $"dkimpy-sign-in-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        string output = input.Replace("-in-", "-out-", StringComparison.Ordinal);
        try
        {
            WriteJobs(input, jobs);
            var psi = new ProcessStartInfo(Python) { RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(Script);
            psi.ArgumentList.Add(input);
            psi.ArgumentList.Add(output);
            using Process process = Process.Start(psi)!;
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill();
                throw new TimeoutException("dkimpy did not finish within 5 minutes");
            }
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"dkimpy failed (exit {process.ExitCode}); is python3-dkim installed? {stderr.Result}");
            }
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(output));
            var signed = new List<byte[]>();
            int i = 0;
            foreach (JsonElement e in doc.RootElement.EnumerateArray())
            {
                string error = e.GetProperty("error").GetString() ?? "";
                if (error.Length > 0)
                {
                    throw new InvalidOperationException($"dkimpy could not sign job {i}: {error}");
                }
                signed.Add(e.GetProperty("msg").GetBytesFromBase64());
                i++;
            }
            return signed;
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    private static void WriteJobs(string path, IReadOnlyList<(byte[] Message, IReadOnlyList<DkimpySignature> Signatures)> jobs)
    {
        using FileStream stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream);
        w.WriteStartArray();
        foreach ((byte[] message, IReadOnlyList<DkimpySignature> signatures) in jobs)
        {
            w.WriteStartObject();
            w.WriteBase64String("msg", message);
            w.WriteStartArray("sigs");
            foreach (DkimpySignature s in signatures)
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
                {
                    w.WriteNumber("time", t);
                }
                else
                {
                    w.WriteNull("time");
                }
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
                    {
                        w.WriteStringValue(h);
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
