using System.Security.Cryptography;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;

namespace Milter.Keys;

/// <summary>The outcome of comparing a published key record with a private key: ok or not, one line saying
/// why, and an optional warning.</summary>
internal sealed record KeyRecordCheckResult(bool Ok, string Message, string? Warning = null);

/// <summary>
/// Checks one DKIM key record (RFC 6376 3.6.1, RFC 8463 4.2) against a private key, as testkey reports it.
/// <see cref="Check"/> is pure (no DNS, no file access); <see cref="CheckRecordAsync"/> looks the record up first.
/// </summary>
internal static class KeyRecordCheck
{
    /// <summary>Verifiers must refuse RSA keys under 1024 bits; signers should use 2048 or more (RFC 8301 3.2).</summary>
    public const int MinRsaBits = 1024, RecommendedRsaBits = 2048;

    /// <summary>Longest record text looked at (a 4096-bit RSA key record is about 750 characters).</summary>
    public const int MaxRecordLength = 4096;

    public static KeyRecordCheckResult Check(string record, DkimPrivateKey key, string recordName, string keyPath)
    {
        static KeyRecordCheckResult Fail(string message) => new(false, message);
        if (record.Length > MaxRecordLength)
            return Fail($"syntax error in the record at {recordName}: {record.Length} characters, more than {MaxRecordLength}");
        if (!DkimTagList.TryParse(record, out var tags, out var error))
            return Fail($"syntax error in the record at {recordName}: {error}");
        // v= is optional, but when present it must be the first tag and be DKIM1 (RFC 6376 3.6.1).
        if (tags!.TryGetValue("v", out var v) && (tags.Tags[0].Name != "v" || v != "DKIM1"))
            return Fail($"syntax error in the record at {recordName}: v= must be the first tag and be DKIM1 (it is v={v})");
        if (!tags.TryGetValue("p", out var p))
            return Fail($"syntax error in the record at {recordName}: no p= tag");
        var publicKeyText = string.Concat(p.Where(c => !char.IsWhiteSpace(c)));
        if (publicKeyText.Length == 0)
            return Fail($"key revoked: the record at {recordName} has an empty p= (RFC 6376 3.6.1)");
        // Tag values are compared as the verifier compares them: k= without regard to case.
        var recordType = (tags["k"] ?? "rsa").ToLowerInvariant();
        if (recordType is not ("rsa" or "ed25519"))
            return Fail($"unsupported key type k={recordType} in the record at {recordName}");
        var keyType = key.KeyType == DkimKeyType.Rsa ? "rsa" : "ed25519";
        if (recordType != keyType)
            return Fail($"key type mismatch: the record at {recordName} has k={recordType}, key file {keyPath} holds a {Describe(key)} key");
        if (tags["h"] is { } h && !ListAllows(h, "sha256"))
            return Fail($"the record at {recordName} has h={h}, which does not allow sha256");
        if (tags["s"] is { } s && !ListAllows(s, "email") && !ListAllows(s, "*"))
            return Fail($"the record at {recordName} has s={s}, which does not allow email");
        byte[] published;
        try
        {
            published = Convert.FromBase64String(publicKeyText);
        }
        catch (FormatException)
        {
            return Fail($"syntax error in the record at {recordName}: p= is not valid base64");
        }
        var result = keyType == "rsa"
            ? CompareRsa(published, key, recordName, keyPath)
            : CompareEd25519(published, key, recordName, keyPath);
        if (result.Ok && tags["t"] is { } t && ListAllows(t, "y"))
            result = result with { Message = result.Message + "; note: t=y, the domain is testing DKIM" };
        return result;
    }

    private static KeyRecordCheckResult CompareRsa(byte[] published, DkimPrivateKey key, string recordName, string keyPath)
    {
        using var recordKey = RSA.Create();
        try
        {
            // SubjectPublicKeyInfo per RFC 6376 3.6.1; some publishers write a bare RSAPublicKey.
            try
            {
                recordKey.ImportSubjectPublicKeyInfo(published, out _);
            }
            catch (CryptographicException)
            {
                recordKey.ImportRSAPublicKey(published, out _);
            }
        }
        catch (CryptographicException)
        {
            return new(false, $"syntax error in the record at {recordName}: p= is not an RSA public key");
        }
        var bits = recordKey.KeySize;
        if (bits < MinRsaBits)
            return new(false, $"weak key: the record at {recordName} holds a {bits}-bit RSA key; verifiers refuse keys under {MinRsaBits} bits (RFC 8301 3.2)");
        using var ours = RSA.Create();
        ours.ImportSubjectPublicKeyInfo(Convert.FromBase64String(key.PublicKeyBase64), out _);
        var a = recordKey.ExportParameters(false);
        var b = ours.ExportParameters(false);
        if (!a.Modulus.AsSpan().SequenceEqual(b.Modulus) || !a.Exponent.AsSpan().SequenceEqual(b.Exponent))
            return Mismatch(recordName, keyPath);
        var warning = bits < RecommendedRsaBits
            ? $"warning: {bits}-bit RSA key at {recordName}; use {RecommendedRsaBits} bits or more (RFC 8301 3.2)"
            : null;
        return new(true, $"ok: the record at {recordName} matches key file {keyPath} (rsa-sha256, {bits}-bit RSA)", warning);
    }

    private static KeyRecordCheckResult CompareEd25519(byte[] published, DkimPrivateKey key, string recordName, string keyPath)
    {
        // p= is the raw 32-byte public key (RFC 8463 4.2).
        if (published.Length != 32)
            return new(false, $"syntax error in the record at {recordName}: an Ed25519 p= must hold 32 bytes, not {published.Length}");
        return published.AsSpan().SequenceEqual(Convert.FromBase64String(key.PublicKeyBase64))
            ? new(true, $"ok: the record at {recordName} matches key file {keyPath} (ed25519-sha256)")
            : Mismatch(recordName, keyPath);
    }

    private static KeyRecordCheckResult Mismatch(string recordName, string keyPath) =>
        new(false, $"key mismatch: the record at {recordName} is not the public key of key file {keyPath}");

    /// <summary>"2048-bit RSA" or "Ed25519", for messages.</summary>
    public static string Describe(DkimPrivateKey key) =>
        key.KeyType == DkimKeyType.Rsa ? $"{key.KeySizeBits}-bit RSA" : "Ed25519";

    /// <summary>True when the colon-separated list holds <paramref name="item"/> (case-insensitive).</summary>
    private static bool ListAllows(string list, string item) =>
        list.Split(':').Any(x => x.Trim().Equals(item, StringComparison.OrdinalIgnoreCase));

    /// <summary>Looks up the key record <paramref name="name"/> and compares it with <paramref name="key"/>: the exit code
    /// (0 match, 1 problem with the record, 3 DNS temporary failure), the result line and a warning (weak key) or null.
    /// Shared by `testkey`, `check-config`, `keys status` and the daemon's key rotation.</summary>
    internal static async Task<(int Code, string Line, string? Warning)> CheckRecordAsync(IDnsResolver resolver, string name,
        DkimPrivateKey key, string keyPath, int timeoutMs)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        DnsAnswer<string> answer;
        try
        {
            answer = await resolver.GetTxtAsync(name, cts.Token);
        }
        catch (OperationCanceledException)
        {
            answer = DnsAnswer<string>.TimedOut;
        }

        if (answer.IsTemporaryFailure)
            return (Program.ExitTemporary, $"temperror: the DNS lookup of TXT {name} failed temporarily ({answer.Error ?? answer.Status.ToString()})", null);
        if (answer.Status == DnsStatus.NxDomain || answer.Records.Count == 0)
        {
            var why = answer.Status == DnsStatus.NxDomain ? "NXDOMAIN" : "the name has no TXT records";
            return (Program.ExitCheckFailed, $"fail: no TXT record at {name} ({why})", null);
        }
        if (answer.Records.Count > 1)
        {
            // RFC 6376 3.6.2.2 leaves the choice among several records to the verifier: publish one.
            return (Program.ExitCheckFailed, $"fail: {answer.Records.Count} TXT records at {name}; publish exactly one key record there", null);
        }
        var result = KeyRecordCheck.Check(answer.Records[0], key, name, keyPath);
        return (result.Ok ? Program.ExitOk : Program.ExitCheckFailed, result.Ok ? result.Message : "fail: " + result.Message, result.Warning);
    }
}
