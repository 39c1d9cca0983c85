using System.Diagnostics;
using System.Text.Json;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>Runs dkimpy (python3-dkim) once over a batch of messages: JSON file in, JSON out.</summary>
internal static class Dkimpy
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys, json, base64
        import dkim
        cases = json.load(open(sys.argv[1]))
        out = []
        for case in cases:
            keys = {k.lower().rstrip('.'): v for k, v in case['keys'].items()}
            def dnsfunc(name, timeout=5, keys=keys):
                n = name.decode() if isinstance(name, bytes) else name
                r = keys.get(n.lower().rstrip('.'))
                return r.encode() if r is not None else None
            try:
                ok = bool(dkim.verify(base64.b64decode(case['msg']), dnsfunc=dnsfunc))
                out.append({'ok': ok, 'error': ''})
            except Exception as e:
                out.append({'ok': False, 'error': repr(e)})
        json.dump(out, open(sys.argv[2], 'w'))
        """;

    public static IReadOnlyList<(bool Ok, string Error)> Verify(IReadOnlyList<InteropCase> cases)
    {
        if (!File.Exists(Python))
        {
            throw new InvalidOperationException($"{Python} is missing: install python3 and python3-dkim (dkimpy) to run the interop tests.");
        }
        string input = Path.Combine(Path.GetTempPath(), $"dkimpy-in-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        string output = input.Replace("-in-", "-out-", StringComparison.Ordinal);
        try
        {
            using (FileStream stream = File.Create(input))
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartArray();
                foreach (InteropCase c in cases)
                {
                    writer.WriteStartObject();
                    writer.WriteBase64String("msg", c.Message);
                    writer.WriteStartObject("keys");
                    writer.WriteString($"{c.Selector}._domainkey.{c.Domain}", c.Record);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
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
                throw new InvalidOperationException(
                    $"dkimpy run failed (exit {process.ExitCode}); is python3-dkim installed? {stderr.Result}");
            }
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(output));
            var results = new List<(bool, string)>();
            foreach (JsonElement e in doc.RootElement.EnumerateArray())
            {
                results.Add((e.GetProperty("ok").GetBoolean(), e.GetProperty("error").GetString() ?? ""));
            }
            return results;
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }
}

/// <summary>MimeKit's DkimVerifier with public keys from a dictionary (no DNS).</summary>
internal sealed class MimeKitVerifier
{
    public static (bool Ok, string Error) Verify(InteropCase c)
    {
        try
        {
            using var stream = new MemoryStream(c.Message);
            MimeMessage message = MimeMessage.Load(stream);
            int index = message.Headers.IndexOf(HeaderId.DkimSignature);
            if (index < 0)
            {
                return (false, "no DKIM-Signature");
            }
            var verifier = new DkimVerifier(new Locator(c.Record)) { MinimumRsaKeyLength = 1024 };
            verifier.Enable(DkimSignatureAlgorithm.Ed25519Sha256);
            return (verifier.Verify(message, message.Headers[index]), "");
        }
        catch (FormatException e)
        {
            return (false, e.Message);
        }
    }

    private sealed class Locator(string record) : DkimPublicKeyLocatorBase
    {
        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector,
            CancellationToken cancellationToken = default) => GetPublicKey(record);

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector,
            CancellationToken cancellationToken = default) => Task.FromResult(GetPublicKey(record));
    }
}
