using System.Collections.Concurrent;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.EdEC;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Milter.MailAuth.Dkim;

public enum DkimKeyType
{
    Rsa,
    Ed25519,
}

/// <summary>Result of loading a key: the key, or an error message that never contains key material.</summary>
public sealed record DkimKeyLoadResult(DkimPrivateKey? Key, string? Error)
{
    public bool Success => Key is not null;
}

/// <summary>
/// A DKIM signing key, parsed once. RSA signing uses System.Security.Cryptography (a small pool of RSA objects
/// so concurrent signing never shares one); Ed25519 uses BouncyCastle (stateless signing, thread-safe).
/// </summary>
public sealed class DkimPrivateKey : IDisposable
{
    public const int MinRsaBits = 1024;
    public const int MaxRsaBits = 4096;

    private readonly byte[]? _rsaPkcs1;              // to create more RSA objects for the pool
    private readonly ConcurrentBag<RSA> _rsaPool = [];
    private readonly int _rsaPoolMax = Math.Max(2, Environment.ProcessorCount * 2);
    private readonly Ed25519PrivateKeyParameters? _ed25519;

    private DkimPrivateKey(RSA rsa)
    {
        KeyType = DkimKeyType.Rsa;
        KeySizeBits = rsa.KeySize;
        _rsaPkcs1 = rsa.ExportRSAPrivateKey();
        PublicKeyBase64 = Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo());
        _rsaPool.Add(rsa);
    }

    private DkimPrivateKey(Ed25519PrivateKeyParameters key)
    {
        KeyType = DkimKeyType.Ed25519;
        KeySizeBits = 256;
        _ed25519 = key;
        PublicKeyBase64 = Convert.ToBase64String(key.GeneratePublicKey().GetEncoded());
    }

    public DkimKeyType KeyType { get; }

    public int KeySizeBits { get; }

    /// <summary>a= value: "rsa-sha256" or "ed25519-sha256".</summary>
    public string Algorithm => KeyType == DkimKeyType.Rsa ? "rsa-sha256" : "ed25519-sha256";

    /// <summary>p= value: base64 SubjectPublicKeyInfo (RSA) or the raw 32-byte public key (Ed25519, RFC 8463 4.2).</summary>
    public string PublicKeyBase64 { get; }

    /// <summary>The DNS TXT record text for the selector.</summary>
    public string PublicKeyRecord =>
        $"v=DKIM1; k={(KeyType == DkimKeyType.Rsa ? "rsa" : "ed25519")}; p={PublicKeyBase64}";

    /// <summary>Loads a key from PEM text (PKCS#1 RSA, PKCS#8 RSA or Ed25519) or a base64 32-byte Ed25519 seed.</summary>
    public static DkimKeyLoadResult Load(string text)
    {
        try
        {
            return LoadCore(text);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException
                                      or InvalidCastException or InvalidOperationException or IOException)
        {
            return Fail("the key could not be decoded (" + e.GetType().Name + ")");
        }
    }

    /// <summary>Creates a fresh Ed25519 or RSA key (for keygen and tests).</summary>
    public static DkimPrivateKey Generate(DkimKeyType type, int rsaBits = 2048)
    {
        if (type == DkimKeyType.Ed25519)
        {
            byte[] seed = RandomNumberGenerator.GetBytes(Ed25519.SecretKeySize);
            return new DkimPrivateKey(new Ed25519PrivateKeyParameters(seed));
        }
        if (rsaBits is < MinRsaBits or > MaxRsaBits)
        {
            throw new ArgumentOutOfRangeException(nameof(rsaBits), $"RSA keys must have {MinRsaBits} to {MaxRsaBits} bits.");
        }
        return new DkimPrivateKey(RSA.Create(rsaBits));
    }

    /// <summary>PEM text of the private key (PKCS#8), for keygen.</summary>
    public string ExportPkcs8Pem()
    {
        if (KeyType == DkimKeyType.Rsa)
        {
            RSA rsa = RentRsa();
            try
            {
                return rsa.ExportPkcs8PrivateKeyPem();
            }
            finally
            {
                ReturnRsa(rsa);
            }
        }
        var info = new PrivateKeyInfo(
            new Org.BouncyCastle.Asn1.X509.AlgorithmIdentifier(EdECObjectIdentifiers.id_Ed25519),
            new Org.BouncyCastle.Asn1.DerOctetString(_ed25519!.GetEncoded()));
        return PemEncoding.WriteString("PRIVATE KEY", info.GetEncoded());
    }

    /// <summary>Signs a SHA-256 hash: RSASSA-PKCS1-v1_5 for RSA, pure Ed25519 over the 32 hash bytes for
    /// Ed25519 (RFC 8463 3). No parsing and no I/O happen here.</summary>
    public byte[] SignHash(ReadOnlySpan<byte> sha256)
    {
        if (KeyType == DkimKeyType.Ed25519)
        {
            byte[] signature = new byte[Ed25519.SignatureSize];
            _ed25519!.Sign(Ed25519.Algorithm.Ed25519, null, sha256.ToArray(), 0, sha256.Length, signature, 0);
            return signature;
        }
        RSA rsa = RentRsa();
        try
        {
            return rsa.SignHash(sha256, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        finally
        {
            ReturnRsa(rsa);
        }
    }

    private RSA RentRsa()
    {
        if (_rsaPool.TryTake(out RSA? rsa))
        {
            return rsa;
        }
        // Another thread holds the pooled object(s): make another one from the already validated key bytes.
        return ImportRsa(_rsaPkcs1, pkcs8: false, out _);
    }

    private void ReturnRsa(RSA rsa)
    {
        if (_rsaPool.Count < _rsaPoolMax)
        {
            _rsaPool.Add(rsa);
        }
        else
        {
            rsa.Dispose();
        }
    }

    public void Dispose()
    {
        while (_rsaPool.TryTake(out RSA? rsa))
        {
            rsa.Dispose();
        }
        if (_rsaPkcs1 is not null)
        {
            CryptographicOperations.ZeroMemory(_rsaPkcs1);
        }
    }

    private static DkimKeyLoadResult LoadCore(string text)
    {
        ReadOnlySpan<char> trimmed = text.AsSpan().Trim();
        if (trimmed.IsEmpty)
        {
            return Fail("the key text is empty");
        }
        if (!trimmed.StartsWith("-----"))
        {
            return LoadSeed(trimmed);
        }
        if (!PemEncoding.TryFind(trimmed, out PemFields fields))
        {
            return Fail("no valid PEM block found");
        }
        string label = trimmed[fields.Label].ToString();
        byte[] der = Convert.FromBase64String(trimmed[fields.Base64Data].ToString());
        try
        {
            switch (label)
            {
                case "RSA PRIVATE KEY":
                    {
                        RSA rsa = ImportRsa(der, pkcs8: false, out int read);
                        return read == der.Length ? FromRsa(rsa) : FailDispose(rsa, "trailing data after the RSA key");
                    }
                case "PRIVATE KEY":
                    return LoadPkcs8(der);
                case "ENCRYPTED PRIVATE KEY":
                    return Fail("encrypted private keys are not supported; store the key unencrypted with restricted file permissions");
                default:
                    return Fail($"unsupported PEM type \"{label}\" (expected RSA PRIVATE KEY or PRIVATE KEY)");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    private static DkimKeyLoadResult LoadPkcs8(byte[] der)
    {
        PrivateKeyInfo info = PrivateKeyInfo.GetInstance(der);
        string oid = info.PrivateKeyAlgorithm.Algorithm.Id;
        if (oid == PkcsObjectIdentifiers.RsaEncryption.Id)
        {
            return FromRsa(ImportRsa(der, pkcs8: true, out _));
        }
        if (oid == EdECObjectIdentifiers.id_Ed25519.Id)
        {
            byte[] seed = Org.BouncyCastle.Asn1.Asn1OctetString.GetInstance(info.ParsePrivateKey()).GetOctets();
            return seed.Length == Ed25519.SecretKeySize
                ? Loaded(new Ed25519PrivateKeyParameters(seed))
                : Fail("the Ed25519 key does not hold a 32-byte seed");
        }
        return Fail($"unsupported key algorithm {oid} (expected RSA or Ed25519)");
    }

    private static DkimKeyLoadResult LoadSeed(ReadOnlySpan<char> base64)
    {
        byte[] seed = new byte[(base64.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64Chars(base64, seed, out int length))
        {
            return Fail("the key is neither PEM nor a base64 Ed25519 seed");
        }
        try
        {
            return length == Ed25519.SecretKeySize
                ? Loaded(new Ed25519PrivateKeyParameters(seed, 0))
                : Fail($"a raw Ed25519 key must be a 32-byte seed in base64 (got {length} bytes)");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>A new RSA object holding the key; disposed again when the bytes do not import (a malformed key
    /// file must not leave a native key handle to the finalizer).</summary>
    private static RSA ImportRsa(ReadOnlySpan<byte> der, bool pkcs8, out int read)
    {
        var rsa = RSA.Create();
        try
        {
            if (pkcs8) rsa.ImportPkcs8PrivateKey(der, out read);
            else rsa.ImportRSAPrivateKey(der, out read);
            return rsa;
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static DkimKeyLoadResult FromRsa(RSA rsa) =>
        rsa.KeySize is < MinRsaBits or > MaxRsaBits
            ? FailDispose(rsa, $"RSA key has {rsa.KeySize} bits; DKIM keys must have {MinRsaBits} to {MaxRsaBits} bits")
            : Loaded(rsa);

#pragma warning disable CA2000 // the key (owning the RSA object) is handed to the caller in the result, which disposes it
    private static DkimKeyLoadResult Loaded(RSA rsa) => new(new DkimPrivateKey(rsa), null);
    private static DkimKeyLoadResult Loaded(Ed25519PrivateKeyParameters ed25519) => new(new DkimPrivateKey(ed25519), null);
#pragma warning restore CA2000

    private static DkimKeyLoadResult FailDispose(RSA rsa, string error)
    {
        rsa.Dispose();
        return Fail(error);
    }

    private static DkimKeyLoadResult Fail(string error) => new(null, error);
}
