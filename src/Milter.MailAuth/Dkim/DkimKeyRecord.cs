using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace Milter.MailAuth.Dkim;

/// <summary>A key record lookup outcome: a usable key, or the result and reason to report.</summary>
public sealed record DkimKeyRecordResult(DkimKeyRecord? Key, DkimResult ErrorResult, string? Error)
{
    public static DkimKeyRecordResult Of(DkimKeyRecord key) => new(key, DkimResult.None, null);

    public static DkimKeyRecordResult PermError(string reason) => new(null, DkimResult.PermError, reason);

    public static DkimKeyRecordResult TempError(string reason) => new(null, DkimResult.TempError, reason);
}

/// <summary>
/// A parsed DKIM public key record (RFC 6376 3.6.1; ed25519 RFC 8463 4.2), immutable and safe to share
/// between messages and threads. RSA keys are SubjectPublicKeyInfo DER as the RFC says, or a bare PKCS#1
/// RSAPublicKey as some publishers write; Ed25519 keys are the raw 32 bytes.
/// </summary>
public sealed class DkimKeyRecord
{
    /// <summary>Longest record text accepted (an 8192-bit RSA key is about 1.4 KB of base64).</summary>
    public const int MaxRecordLength = 4096;

    /// <summary>Largest RSA key accepted (verifying with huge keys is a denial-of-service vector).</summary>
    public const int MaxRsaBits = 8192;

    private readonly RSA? _rsa;
    private readonly Ed25519PublicKeyParameters? _ed25519;
    private readonly string[]? _hashes;

    private DkimKeyRecord(RSA? rsa, Ed25519PublicKeyParameters? ed25519, string[]? hashes, bool testing, bool strict)
    {
        _rsa = rsa;
        _ed25519 = ed25519;
        _hashes = hashes;
        Testing = testing;
        StrictIdentity = strict;
        KeyBits = rsa?.KeySize ?? 256;
    }

    /// <summary>k= of the record: "rsa" or "ed25519".</summary>
    public string KeyType => _rsa is not null ? "rsa" : "ed25519";

    public int KeyBits { get; }

    /// <summary>t=y: the domain is testing DKIM.</summary>
    public bool Testing { get; }

    /// <summary>t=s: the i= domain must equal d= exactly.</summary>
    public bool StrictIdentity { get; }

    /// <summary>True when the key may be used with <paramref name="algorithm"/> (key type and h= hash list).</summary>
    public bool Suits(DkimSignatureAlgorithm algorithm, out string? reason)
    {
        bool rsaAlgorithm = algorithm != DkimSignatureAlgorithm.Ed25519Sha256;
        if (rsaAlgorithm != (_rsa is not null))
        {
            reason = "key type does not match algorithm";
            return false;
        }
        string hash = algorithm == DkimSignatureAlgorithm.RsaSha1 ? "sha1" : "sha256";
        if (_hashes is not null && Array.IndexOf(_hashes, hash) < 0)
        {
            reason = "key does not allow " + hash;
            return false;
        }
        reason = null;
        return true;
    }

    /// <summary>Verifies <paramref name="signature"/> over the SHA-256 <paramref name="headerHash"/>: RSASSA-PKCS1-v1_5
    /// (RFC 6376 3.3.1), or Ed25519 over the hash bytes (RFC 8463 3). False for any mismatch or malformed input.</summary>
    public bool VerifySha256(byte[] headerHash, byte[] signature)
    {
        if (_rsa is not null)
        {
            try
            {
                lock (_rsa)
                {
                    return _rsa.VerifyHash(headerHash, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                }
            }
            catch (CryptographicException)
            {
                return false;
            }
        }
        if (signature.Length != Ed25519PublicKeyParameters.KeySize * 2)
        {
            return false;
        }
        var verifier = new Ed25519Signer();
        verifier.Init(false, _ed25519);
        verifier.BlockUpdate(headerHash, 0, headerHash.Length);
        return verifier.VerifySignature(signature);
    }

    /// <summary>Parses the record text (TXT strings already joined). Never throws.</summary>
    public static DkimKeyRecordResult Parse(string text)
    {
        if (text.Length > MaxRecordLength)
        {
            return DkimKeyRecordResult.PermError("key record too large");
        }
        if (!DkimTagList.TryParse(text, out DkimTagList? tags, out string? error))
        {
            return DkimKeyRecordResult.PermError("malformed key record: " + error);
        }
        // v= is optional, but when present it MUST be the first tag and be "DKIM1" (RFC 6376 3.6.1).
        if (tags!.TryGetValue("v", out string v) && (tags.Tags[0].Name != "v" || v != "DKIM1"))
        {
            return DkimKeyRecordResult.PermError("malformed key record: bad v=");
        }
        bool ed25519 = false;
        if (tags.TryGetValue("k", out string k))
        {
            if (k.Equals("ed25519", StringComparison.OrdinalIgnoreCase))
            {
                ed25519 = true;
            }
            else if (!k.Equals("rsa", StringComparison.OrdinalIgnoreCase))
            {
                return DkimKeyRecordResult.PermError("unsupported key type");
            }
        }
        if (tags.TryGetValue("s", out string s) && !ListContains(s, "*") && !ListContains(s, "email"))
        {
            return DkimKeyRecordResult.PermError("key not for email");
        }
        bool testing = false, strict = false;
        if (tags.TryGetValue("t", out string t))
        {
            testing = ListContains(t, "y");
            strict = ListContains(t, "s");
        }
        string[]? hashes = tags.TryGetValue("h", out string h) ? SplitList(h) : null;
        if (!tags.TryGetValue("p", out string p))
        {
            return DkimKeyRecordResult.PermError("malformed key record: missing p=");
        }
        byte[]? keyData = DkimVerifierSignature.DecodeBase64(p);
        if (keyData is null)
        {
            return DkimKeyRecordResult.PermError("malformed key record: bad base64 in p=");
        }
        if (keyData.Length == 0)
        {
            return DkimKeyRecordResult.PermError("key revoked"); // empty p= (RFC 6376 3.6.1)
        }
        return ed25519 ? ParseEd25519(keyData, hashes, testing, strict) : ParseRsa(keyData, hashes, testing, strict);
    }

    private static DkimKeyRecordResult ParseRsa(byte[] der, string[]? hashes, bool testing, bool strict)
    {
        RSA rsa = RSA.Create();
        if (!TryImport(rsa, der))
        {
            rsa.Dispose();
            return DkimKeyRecordResult.PermError("malformed key record: p= is not an RSA public key");
        }
        if (rsa.KeySize > MaxRsaBits)
        {
            int bits = rsa.KeySize;
            rsa.Dispose();
            return DkimKeyRecordResult.PermError($"key too large ({bits} bits)");
        }
        return DkimKeyRecordResult.Of(new DkimKeyRecord(rsa, null, hashes, testing, strict));
    }

    private static bool TryImport(RSA rsa, byte[] der)
    {
        try
        {
            rsa.ImportSubjectPublicKeyInfo(der, out int read);
            return read == der.Length;
        }
        catch (CryptographicException)
        {
        }
        try
        {
            rsa.ImportRSAPublicKey(der, out int read); // PKCS#1, as some publishers write it
            return read == der.Length;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static DkimKeyRecordResult ParseEd25519(byte[] raw, string[]? hashes, bool testing, bool strict)
    {
        if (raw.Length != Ed25519PublicKeyParameters.KeySize)
        {
            return DkimKeyRecordResult.PermError("malformed key record: ed25519 key is not 32 bytes");
        }
        try
        {
            return DkimKeyRecordResult.Of(new DkimKeyRecord(null, new Ed25519PublicKeyParameters(raw), hashes, testing, strict));
        }
        catch (ArgumentException)
        {
            return DkimKeyRecordResult.PermError("malformed key record: invalid ed25519 key");
        }
    }

    /// <summary>Colon-separated list items, FWS trimmed, lower-cased.</summary>
    private static string[] SplitList(string value)
    {
        string[] items = value.Split(':');
        for (int i = 0; i < items.Length; i++)
        {
            items[i] = items[i].Trim(' ', '\t', '\r', '\n').ToLowerInvariant();
        }
        return items;
    }

    private static bool ListContains(string list, string item) => Array.IndexOf(SplitList(list), item) >= 0;
}
