using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Verification of one message, streaming: <see cref="AddHeader"/> for each header field in arrival order,
/// then <see cref="AppendBody"/> for each body chunk, then <see cref="CompleteAsync"/>. Header fields are kept
/// (bounded by <see cref="DkimVerifierOptions.MaxHeaderBytes"/> and <see cref="DkimVerifierOptions.MaxHeaderCount"/>);
/// the body is never kept: each chunk goes through one canonicalizer and hash per distinct (body
/// canonicalization, l=) pair. Not thread-safe; dispose to return the header buffer to the pool.
/// </summary>
public sealed class DkimVerifierContext : IDisposable
{
    private const string SignatureFieldName = "DKIM-Signature";

    private readonly DkimVerifier _verifier;
    private readonly DkimVerifierOptions _options;
    private readonly List<HeaderEntry> _headers = [];
    private readonly List<DkimVerifierSignature> _signatures = [];
    private byte[] _headerBytes;
    private int _headerLength;
    private List<BodyHashSlot>? _bodyHashes;
    private bool _completed;
    private bool _bodyStarted;

    internal DkimVerifierContext(DkimVerifier verifier)
    {
        _verifier = verifier;
        _options = verifier.Options;
        _headerBytes = ArrayPool<byte>.Shared.Rent(Math.Min(4096, _options.MaxHeaderBytes));
    }

    /// <summary>True when a header field was dropped because of the header limits.</summary>
    public bool HeaderLimitExceeded { get; private set; }

    /// <summary>Number of DKIM-Signature fields seen (including any beyond the reporting limit).</summary>
    public int SignatureFieldCount { get; private set; }

    /// <summary>Adds one header field: <paramref name="name"/> is the bytes before the colon,
    /// <paramref name="value"/> the exact bytes after it (leading space and folding CRLFs included, final CRLF
    /// excluded).</summary>
    public void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_bodyHashes is not null || _completed)
        {
            throw new InvalidOperationException("Header fields must come before the body.");
        }
        if (_headers.Count >= _options.MaxHeaderCount || (long)_headerLength + name.Length + value.Length > _options.MaxHeaderBytes)
        {
            HeaderLimitExceeded = true;
            return;
        }
        int nameStart = Store(name);
        int valueStart = Store(value);
        string nameString = FieldName(name);
        _headers.Add(new HeaderEntry(nameString, nameStart, name.Length, valueStart, value.Length));
        if (nameString.Equals(SignatureFieldName, StringComparison.OrdinalIgnoreCase))
        {
            SignatureFieldCount++;
            if (_signatures.Count < _options.MaxReportedSignatures)
            {
                // own copies: the header buffer may move when it grows
                _signatures.Add(DkimVerifierSignature.Parse(name.ToArray(), value.ToArray()));
            }
        }
    }

    /// <summary>Adds a body chunk (any size, any split).</summary>
    public void AppendBody(ReadOnlySpan<byte> chunk)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The message is already complete.");
        }
        _bodyHashes ??= CreateBodyHashes();
        _bodyStarted = true;
        foreach (BodyHashSlot slot in _bodyHashes)
        {
            slot.Hasher.Append(chunk);
        }
    }

    /// <summary>Ends the message, fetches the keys (in parallel) and returns one result per DKIM-Signature field
    /// in header order (empty when there is none). Throws only <see cref="OperationCanceledException"/>.</summary>
    public async Task<IReadOnlyList<DkimVerificationResult>> CompleteAsync(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The message is already complete.");
        }
        _bodyHashes ??= CreateBodyHashes();
        _completed = true;
        if (_signatures.Count == 0)
        {
            return [];
        }
        var results = new DkimVerificationResult?[_signatures.Count];
        var pending = new List<PendingKey>();
        long now = _verifier.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        for (int i = 0; i < _signatures.Count; i++)
        {
            results[i] = CheckBeforeKey(i, now, out string? keyName, out bool bodyHashFailed);
            if (results[i] is null)
            {
                pending.Add(new PendingKey(i, keyName!, bodyHashFailed));
            }
        }
        if (pending.Count > 0)
        {
            Dictionary<string, DkimKeyRecordResult> keys = await FetchKeysAsync(pending, cancellationToken).ConfigureAwait(false);
            foreach (PendingKey p in pending)
            {
                DkimVerifierSignature sig = _signatures[p.Index];
                DkimKeyRecordResult lookup = keys[p.KeyName];
                results[p.Index] = p.BodyHashFailed ? CheckKeyAfterBodyHashFailure(sig, lookup) : CheckWithKey(sig, lookup);
            }
        }
        return results!;
    }

    /// <summary>Everything that needs no key (RFC 6376 6.1.1), then the body hash of 6.1.3. Returns null when the
    /// key is needed, with its record name and whether the body hash failed: the body hash is compared before
    /// the key is fetched (so a valid message does no more work than it did), but its failure is reported only
    /// once the key has passed the checks of 6.1.2 (see <see cref="CheckKeyAfterBodyHashFailure"/>).</summary>
    private DkimVerificationResult? CheckBeforeKey(int index, long now, out string? keyName, out bool bodyHashFailed)
    {
        DkimVerifierSignature sig = _signatures[index];
        keyName = null;
        bodyHashFailed = false;
        if (index >= _options.MaxSignatures)
        {
            return Result(sig, DkimResult.Neutral, $"not checked (limit of {_options.MaxSignatures} signatures)");
        }
        if (!sig.IsValid)
        {
            return Result(sig, sig.ErrorResult, sig.Error);
        }
        if (HeaderLimitExceeded)
        {
            return Result(sig, DkimResult.PermError, "message header too large");
        }
        if (sig.Algorithm == DkimSignatureAlgorithm.RsaSha1)
        {
            return Result(sig, DkimResult.Policy, "rsa-sha1 not accepted (RFC 8301)");
        }
        long drift = (long)_options.ClockDrift.TotalSeconds;
        if (sig.Timestamp is long t && t > now + drift)
        {
            return Result(sig, DkimResult.PermError, "signature timestamp in the future");
        }
        if (sig.Expiration is long x && x < now - drift)
        {
            return Result(sig, DkimResult.PermError, "signature expired");
        }
        keyName = DkimKeyRecordName.For(sig.Selector, sig.Domain);
        if (keyName is null)
        {
            return Result(sig, DkimResult.Neutral, "malformed d= or s=");
        }
        BodyHashSlot slot = FindBodyHash(sig)!;
        bodyHashFailed = !CryptographicOperations.FixedTimeEquals(slot.Hasher.Complete(), sig.BodyHash);
        return null;
    }

    private async Task<Dictionary<string, DkimKeyRecordResult>> FetchKeysAsync(List<PendingKey> pending,
        CancellationToken cancellationToken)
    {
        var names = new List<string>(pending.Count);
        foreach (PendingKey p in pending)
        {
            if (!names.Contains(p.KeyName))
            {
                names.Add(p.KeyName);
            }
        }
        var tasks = new Task<DkimKeyRecordResult>[names.Count];
        for (int i = 0; i < names.Count; i++)
        {
            tasks[i] = _verifier.GetKeyAsync(names[i], cancellationToken);
        }
        DkimKeyRecordResult[] fetched = await Task.WhenAll(tasks).ConfigureAwait(false);
        var keys = new Dictionary<string, DkimKeyRecordResult>(names.Count, StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            keys[names[i]] = fetched[i];
        }
        return keys;
    }

    /// <summary>The RFC 6376 6.1.2 checks of the fetched key against this signature, with the t=s identity rule
    /// (3.6.1) and the minimum RSA size (RFC 8301 3.2); null when the key may be used.</summary>
    private DkimVerificationResult? CheckKey(DkimVerifierSignature sig, DkimKeyRecordResult lookup)
    {
        DkimKeyRecord? key = lookup.Key;
        if (key is null)
        {
            return Result(sig, lookup.ErrorResult, lookup.Error);
        }
        if (!key.Suits(sig.Algorithm, out string? unsuitable))
        {
            return Result(sig, DkimResult.PermError, unsuitable, key);
        }
        if (key.StrictIdentity && !sig.IdentityDomain.Equals(sig.Domain, StringComparison.OrdinalIgnoreCase))
        {
            return Result(sig, DkimResult.PermError, "i= domain must equal d= (key has t=s)", key);
        }
        if (key.KeyType == "rsa" && key.KeyBits < _options.MinimumKeyBits)
        {
            return Result(sig, DkimResult.Policy, $"key too short ({key.KeyBits} bits)", key);
        }
        return null;
    }

    /// <summary>The body hash failed. RFC 6376 checks the key (6.1.2) before it computes the hashes (6.1.3), so a
    /// key problem is the result: a missing, malformed, revoked or unsuitable key is permerror (policy for a
    /// short RSA key), and a key lookup that got no answer is temperror (6.1.2 step 2) although a later attempt
    /// cannot pass either, which the reason says. Only a usable key gives fail. The key comes through the cache,
    /// so a run of altered messages from one signer costs one query; no signature is verified.</summary>
    private DkimVerificationResult CheckKeyAfterBodyHashFailure(DkimVerifierSignature sig, DkimKeyRecordResult lookup)
    {
        const string BodyHashFailed = "body hash did not verify";
        if (CheckKey(sig, lookup) is { } keyProblem)
        {
            return keyProblem with { Reason = keyProblem.Reason + " (and the " + BodyHashFailed + ")" };
        }
        return Result(sig, DkimResult.Fail, BodyHashFailed, lookup.Key);
    }

    /// <summary>RFC 6376 6.1.2 key checks, then 6.1.3 header hash and signature (the body hash matched).</summary>
    private DkimVerificationResult CheckWithKey(DkimVerifierSignature sig, DkimKeyRecordResult lookup)
    {
        if (CheckKey(sig, lookup) is { } keyProblem)
        {
            return keyProblem;
        }
        DkimKeyRecord key = lookup.Key!;
        if (!key.VerifySha256(ComputeHeaderHash(sig), sig.Signature))
        {
            return Result(sig, DkimResult.Fail, "signature did not verify", key);
        }
        long unsigned = sig.BodyLength >= 0 ? Math.Max(0, FindBodyHash(sig)!.Hasher.CanonicalLength - sig.BodyLength) : 0;
        if (unsigned > 0 && _options.BodyLengthPolicy == DkimBodyLengthPolicy.Policy)
        {
            return Result(sig, DkimResult.Policy, $"body length limit leaves {unsigned} bytes unsigned", key, unsigned);
        }
        return Result(sig, DkimResult.Pass, null, key, unsigned);
    }

    /// <summary>RFC 6376 5.4.2 / 6.1.3: the fields named in h=, each name taking the next instance from the
    /// bottom, a name with no instance left contributing nothing; then this DKIM-Signature with the b= value
    /// removed and no trailing CRLF.</summary>
    private byte[] ComputeHeaderHash(DkimVerifierSignature sig) =>
        ComputeHeaderHash(sig.SignedHeaders, sig.HeaderCanonicalization, sig.RawName.Span, sig.RawValue.Span,
            sig.BValueStart, sig.BValueEnd);

    /// <summary>The header hash of a DKIM-style signature field (DKIM-Signature or ARC-Message-Signature, RFC 8617
    /// 4.1.2): the fields named in <paramref name="names"/> from the bottom, then the signature field itself with the
    /// bytes [<paramref name="bStart"/>, <paramref name="bEnd"/>) of its value (the b= value) removed.</summary>
    internal byte[] ComputeHeaderHash(IReadOnlyList<string> names, DkimCanonicalization canonicalization,
        ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> raw, int bStart, int bEnd)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int j = 0; j < names.Count; j++)
        {
            int skip = 0;
            for (int k = 0; k < j; k++)
            {
                if (names[k].Equals(names[j], StringComparison.OrdinalIgnoreCase))
                {
                    skip++;
                }
            }
            for (int h = _headers.Count - 1; h >= 0; h--)
            {
                HeaderEntry entry = _headers[h];
                if (entry.Name.Equals(names[j], StringComparison.OrdinalIgnoreCase) && skip-- == 0)
                {
                    DkimHeaderCanonicalizer.AppendTo(hash, canonicalization,
                        _headerBytes.AsSpan(entry.NameStart, entry.NameLength),
                        _headerBytes.AsSpan(entry.ValueStart, entry.ValueLength), appendCrlf: true);
                    break;
                }
            }
        }
        AppendWithoutB(hash, canonicalization, rawName, raw, bStart, bEnd);
        return hash.GetHashAndReset();
    }

    /// <summary>Appends a signature field with its b= value removed and no final CRLF (RFC 6376 3.7).</summary>
    internal static void AppendWithoutB(IncrementalHash hash, DkimCanonicalization canonicalization,
        ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> raw, int bStart, int bEnd)
    {
        int removed = bEnd - bStart;
        byte[] withoutB = ArrayPool<byte>.Shared.Rent(raw.Length - removed);
        try
        {
            raw[..bStart].CopyTo(withoutB);
            raw[bEnd..].CopyTo(withoutB.AsSpan(bStart));
            DkimHeaderCanonicalizer.AppendTo(hash, canonicalization, rawName,
                withoutB.AsSpan(0, raw.Length - removed), appendCrlf: false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(withoutB);
        }
    }

    /// <summary>Number of header fields kept (for ARC, which reads the same fields).</summary>
    internal int HeaderCount => _headers.Count;

    internal string HeaderName(int index) => _headers[index].Name;

    internal ReadOnlySpan<byte> RawHeaderName(int index) =>
        _headerBytes.AsSpan(_headers[index].NameStart, _headers[index].NameLength);

    internal ReadOnlySpan<byte> RawHeaderValue(int index) =>
        _headerBytes.AsSpan(_headers[index].ValueStart, _headers[index].ValueLength);

    internal DkimVerifier Verifier => _verifier;

    /// <summary>The body hasher for (<paramref name="canonicalization"/>, <paramref name="length"/>), shared with the
    /// DKIM signatures that need the same one, so the body is canonicalized once per distinct pair whoever asks
    /// (ARC-Message-Signatures, an ARC seal). Only before the first body chunk.</summary>
    internal DkimBodyHasher SharedBodyHasher(DkimCanonicalization canonicalization, long length)
    {
        if (_bodyStarted || _completed)
        {
            throw new InvalidOperationException("Body hashers must be asked for before the body.");
        }
        _bodyHashes ??= CreateBodyHashes();
        foreach (BodyHashSlot slot in _bodyHashes)
        {
            if (slot.Canonicalization == canonicalization && slot.Length == length)
            {
                return slot.Hasher;
            }
        }
#pragma warning disable CA2000 // the slot owns the hasher; Dispose disposes every slot's hasher
        var added = new BodyHashSlot(canonicalization, length, new DkimBodyHasher(canonicalization, length));
#pragma warning restore CA2000
        _bodyHashes.Add(added);
        return added.Hasher;
    }

    /// <summary>Number of distinct body hashes computed for this message.</summary>
    internal int BodyHashCount => _bodyHashes?.Count ?? 0;

    private List<BodyHashSlot> CreateBodyHashes()
    {
        var slots = new List<BodyHashSlot>();
        int checkedCount = Math.Min(_signatures.Count, _options.MaxSignatures);
        for (int i = 0; i < checkedCount; i++)
        {
            DkimVerifierSignature sig = _signatures[i];
            if (!sig.IsValid || sig.Algorithm == DkimSignatureAlgorithm.RsaSha1 || Find(slots, sig) is not null)
            {
                continue;
            }
#pragma warning disable CA2000 // the slot owns the hasher; Dispose disposes every slot's hasher
            slots.Add(new BodyHashSlot(sig.BodyCanonicalization, sig.BodyLength,
                new DkimBodyHasher(sig.BodyCanonicalization, sig.BodyLength)));
#pragma warning restore CA2000
        }
        return slots;
    }

    private BodyHashSlot? FindBodyHash(DkimVerifierSignature sig) => Find(_bodyHashes!, sig);

    private static BodyHashSlot? Find(IEnumerable<BodyHashSlot> slots, DkimVerifierSignature sig)
    {
        foreach (BodyHashSlot slot in slots)
        {
            if (slot.Canonicalization == sig.BodyCanonicalization && slot.Length == sig.BodyLength)
            {
                return slot;
            }
        }
        return null;
    }

    private static DkimVerificationResult Result(DkimVerifierSignature sig, DkimResult result, string? reason,
        DkimKeyRecord? key = null, long unsignedBytes = 0) =>
        new(result, reason, sig.Domain, sig.Selector, sig.AlgorithmName, sig.HeaderI, sig.HeaderB,
            Testing: key?.Testing ?? false, BodyLengthLimited: sig.BodyLength >= 0, UnsignedBodyBytes: unsignedBytes,
            KeyBits: key?.KeyBits ?? 0);

    private int Store(ReadOnlySpan<byte> bytes)
    {
        if (_headerLength + bytes.Length > _headerBytes.Length)
        {
            int size = Math.Max(_headerBytes.Length * 2, _headerLength + bytes.Length);
            byte[] bigger = ArrayPool<byte>.Shared.Rent(size);
            _headerBytes.AsSpan(0, _headerLength).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_headerBytes);
            _headerBytes = bigger;
        }
        int start = _headerLength;
        bytes.CopyTo(_headerBytes.AsSpan(start));
        _headerLength += bytes.Length;
        return start;
    }

    /// <summary>The field name without trailing WSP (RFC 5322 obs-FWS before the colon).</summary>
    private static string FieldName(ReadOnlySpan<byte> name)
    {
        int end = name.Length;
        while (end > 0 && (name[end - 1] == (byte)' ' || name[end - 1] == (byte)'\t'))
        {
            end--;
        }
        return Encoding.Latin1.GetString(name[..end]);
    }

    public void Dispose()
    {
        if (_bodyHashes is not null)
        {
            foreach (BodyHashSlot slot in _bodyHashes)
            {
                slot.Hasher.Dispose();
            }
        }
        byte[] buffer = _headerBytes;
        _headerBytes = [];
        _headerLength = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private readonly record struct PendingKey(int Index, string KeyName, bool BodyHashFailed);

    private readonly record struct HeaderEntry(string Name, int NameStart, int NameLength, int ValueStart, int ValueLength);

    private sealed record BodyHashSlot(DkimCanonicalization Canonicalization, long Length, DkimBodyHasher Hasher);
}
