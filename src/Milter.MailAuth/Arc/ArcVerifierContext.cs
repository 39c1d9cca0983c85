using System.Security.Cryptography;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Arc;

/// <summary>
/// ARC validation (RFC 8617 5.2) of one message, riding on its <see cref="DkimVerifierContext"/>: the header fields
/// are the ones that context keeps, the ARC-Message-Signature body hashes are the context's shared body hashers (one
/// canonicalization pass per distinct (c=, l=) for every DKIM signature and every AMS) and keys come through the
/// DKIM key cache. Call <see cref="EndOfHeaders"/> once all header fields were added and before the first body
/// chunk, then <see cref="CompleteAsync"/> after the body. Never throws for bad input: it is a chain failure with a
/// reason (5.2.1: every error is a permanent fail). Cost is bounded: at most 50 sets (150 fields) are read, each
/// field is canonicalized once, and ARC adds at most <see cref="MaxArcBodyHashes"/> body hashes.
/// </summary>
public sealed class ArcVerifierContext
{
    /// <summary>Most body hashes (distinct c=/l= pairs) ARC may add for older AMSes (oldest-pass is optional, 5.2 step 5).</summary>
    public const int MaxArcBodyHashes = 3;

    private const int MaxFields = 3 * ArcFieldNames.MaxInstance;

    private readonly DkimVerifierContext _dkim;
    private ArcChainResult? _early;
    private int _n;
    private ArcField[] _aar = [], _ams = [], _seal = [];
    private DkimBodyHasher?[] _bodies = [];
    private DkimBodyHasher? _relaxedBody;
    private bool _ended;

    public ArcVerifierContext(DkimVerifierContext dkim)
    {
        ArgumentNullException.ThrowIfNull(dkim);
        _dkim = dkim;
    }

    /// <summary>Reads the ARC fields and checks the structure (5.2 steps 1 to 3); asks the DKIM context for the body
    /// hashes the AMSes need. Idempotent.</summary>
    public void EndOfHeaders()
    {
        if (_ended) return;
        _ended = true;
        _early = ReadStructure();
        if (_early is not null) return;
        _bodies = new DkimBodyHasher?[_n + 1];
        int before = _dkim.BodyHashCount;
        for (int k = _n; k >= 1; k--)
        {
            ArcField ams = _ams[k];
            bool isNew = !HasBodyHash(ams.BodyCanonicalization, ams.BodyLength);
            if (k < _n && isNew && _dkim.BodyHashCount - before >= MaxArcBodyHashes) continue;
            _bodies[k] = _dkim.SharedBodyHasher(ams.BodyCanonicalization, ams.BodyLength);
        }
        if (!_ams[_n].CanonicalizationGiven)
            _relaxedBody = _dkim.SharedBodyHasher(DkimCanonicalization.Relaxed, _ams[_n].BodyLength);
    }

    private bool HasBodyHash(DkimCanonicalization c, long l)
    {
        for (int k = 1; k < _bodies.Length; k++)
        {
            if (_bodies[k] is not null && _ams[k].BodyCanonicalization == c && _ams[k].BodyLength == l) return true;
        }
        return false;
    }

    /// <summary>Steps 1 to 3 of RFC 8617 5.2; null when the chain must be verified cryptographically.</summary>
    private ArcChainResult? ReadStructure()
    {
        var fields = new List<ArcField>();
        for (int h = 0; h < _dkim.HeaderCount; h++)
        {
            if (ArcFieldNames.KindOf(_dkim.HeaderName(h)) is not { } kind) continue;
            if (fields.Count == MaxFields) return ArcChainResult.Fail($"more than {MaxFields} ARC header fields");
            fields.Add(ArcField.Parse(kind, _dkim.RawHeaderName(h), _dkim.RawHeaderValue(h)));
        }
        if (fields.Count == 0) return _dkim.HeaderLimitExceeded ? ArcChainResult.Fail("message header too large") : ArcChainResult.NoChain;
        if (_dkim.HeaderLimitExceeded) return ArcChainResult.Fail("message header too large");
        _aar = new ArcField[ArcFieldNames.MaxInstance + 1];
        _ams = new ArcField[ArcFieldNames.MaxInstance + 1];
        _seal = new ArcField[ArcFieldNames.MaxInstance + 1];
        foreach (ArcField f in fields)
        {
            if (f.Instance == 0) return ArcChainResult.Fail(Describe(f) + ": " + f.Error);
            ArcField[] slots = SlotsOf(f.Kind);
            if (slots[f.Instance] is not null) return ArcChainResult.Fail($"duplicate {Name(f.Kind)} i={f.Instance}");
            slots[f.Instance] = f;
            _n = Math.Max(_n, f.Instance);
        }
        // Step 2: the newest seal already says the chain failed.
        if (_seal[_n] is { IsValid: true, ChainValidation: "fail" }) return ArcChainResult.Fail($"ARC-Seal i={_n} has cv=fail", _n);
        // Step 3: exactly one of each per instance, 1..N without gaps, cv=none on i=1 and pass elsewhere.
        for (int k = 1; k <= _n; k++)
        {
            foreach (ArcFieldKind kind in Kinds)
            {
                if (SlotsOf(kind)[k] is not { } f) return ArcChainResult.Fail($"{Name(kind)} i={k} missing", _n);
                if (!f.IsValid) return ArcChainResult.Fail(Describe(f) + ": " + f.Error, _n);
            }
            string expected = k == 1 ? "none" : "pass";
            if (_seal[k].ChainValidation != expected)
                return ArcChainResult.Fail($"ARC-Seal i={k} has cv={_seal[k].ChainValidation} (expected {expected})", _n);
        }
        return null;
    }

    /// <summary>Steps 4 to 7 of RFC 8617 5.2. Throws only <see cref="OperationCanceledException"/>. Keys are fetched
    /// as the steps need them: the newest AMS's key alone first (a failing newest AMS ends validation after one
    /// lookup), then every seal's key together, and the older AMSes' keys only for a chain whose seals all verify
    /// (oldest-pass, step 5, is optional and means nothing for a failed chain, so it is computed last).</summary>
    public async Task<ArcChainResult> CompleteAsync(CancellationToken cancellationToken = default)
    {
        EndOfHeaders();
        if (_early is not null) return _early;
        var keys = new Dictionary<string, DkimKeyRecordResult>(StringComparer.Ordinal);
        // Step 4: the newest AMS.
        await FetchKeysAsync([_ams[_n]], keys, cancellationToken).ConfigureAwait(false);
        if (VerifySignature(_ams[_n], keys) is { } amsProblem)
            return ArcChainResult.Fail($"ARC-Message-Signature i={_n}: {amsProblem}", _n);
        // Step 6: every AS, newest first.
        await FetchKeysAsync(_seal[1..(_n + 1)], keys, cancellationToken).ConfigureAwait(false);
        byte[][] canonical = CanonicalSets();
        for (int k = _n; k >= 1; k--)
        {
            if (VerifySeal(k, canonical, keys) is { } sealProblem)
                return ArcChainResult.Fail($"ARC-Seal i={k}: {sealProblem}", _n);
        }
        // Step 5 (optional): oldest-pass, 0 when every AMS validates.
        await FetchKeysAsync(_ams[1.._n], keys, cancellationToken).ConfigureAwait(false);
        int oldestPass = 0;
        for (int k = _n - 1; k >= 1; k--)
        {
            if (VerifySignature(_ams[k], keys) is not null)
            {
                oldestPass = k + 1;
                break;
            }
        }
        var sets = new List<ArcSet>(_n);
        for (int k = 1; k <= _n; k++)
            sets.Add(new ArcSet(k, _seal[k].Domain, _ams[k].Domain, _aar[k].Payload));
        return new ArcChainResult(ArcResult.Pass, null, _n, oldestPass, sets);
    }

    /// <summary>Fetches, in parallel, the keys of <paramref name="fields"/> not yet in <paramref name="keys"/>.</summary>
    private async Task FetchKeysAsync(IEnumerable<ArcField> fields, Dictionary<string, DkimKeyRecordResult> keys,
        CancellationToken cancellationToken)
    {
        var names = new List<string>();
        foreach (ArcField f in fields)
        {
            if (DkimKeyRecordName.For(f.Selector, f.Domain) is { } name && !keys.ContainsKey(name) && !names.Contains(name)) names.Add(name);
        }
        var fetched = await Task.WhenAll(names.Select(n => _dkim.Verifier.GetKeyAsync(n, cancellationToken))).ConfigureAwait(false);
        for (int i = 0; i < names.Count; i++) keys[names[i]] = fetched[i];
    }

    /// <summary>The key of a field, checked as RFC 6376 6.1.2 does (no t=s rule: there is no AUID, RFC 8617 4.1.2);
    /// a lookup error is a failure (RFC 8617 5.2.1).</summary>
    private string? CheckKey(ArcField f, Dictionary<string, DkimKeyRecordResult> keys, out DkimKeyRecord? key)
    {
        key = null;
        if (DkimKeyRecordName.For(f.Selector, f.Domain) is not { } name || !keys.TryGetValue(name, out var lookup))
            return "malformed d= or s=";
        if (lookup.Key is null) return "key " + (lookup.Error ?? "unavailable");
        if (!lookup.Key.Suits(f.Algorithm, out string? unsuitable)) return unsuitable;
        if (lookup.Key.KeyType == "rsa" && lookup.Key.KeyBits < _dkim.Verifier.Options.MinimumKeyBits)
            return $"key too short ({lookup.Key.KeyBits} bits)";
        key = lookup.Key;
        return null;
    }

    /// <summary>An AMS verified like a DKIM signature (RFC 8617 4.1.2); null when it validates.</summary>
    private string? VerifySignature(ArcField ams, Dictionary<string, DkimKeyRecordResult> keys)
    {
        string? problem = VerifySignature(ams, keys, ams.HeaderCanonicalization, _bodies[ams.Instance]);
        // Without c= the AMS is simple/simple (RFC 8617 4.1.2 imports RFC 6376 3.5). dkimpy, whose behaviour the
        // ValiMail suite encodes (ams_fields_c_na), reads a missing c= on an AMS as relaxed/relaxed: the newest AMS
        // is also accepted in that reading, which can only admit what a relaxed signature would.
        if (problem is not null && !ams.CanonicalizationGiven && _relaxedBody is not null && ams.Instance == _n)
            return VerifySignature(ams, keys, DkimCanonicalization.Relaxed, _relaxedBody) is null ? null : problem;
        return problem;
    }

    private string? VerifySignature(ArcField ams, Dictionary<string, DkimKeyRecordResult> keys,
        DkimCanonicalization headerCanonicalization, DkimBodyHasher? body)
    {
        long now = _dkim.Verifier.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        long drift = (long)_dkim.Verifier.Options.ClockDrift.TotalSeconds;
        if (ams.Timestamp is long t && t > now + drift) return "timestamp in the future";
        if (ams.Expiration is long x && x < now - drift) return "signature expired";
        if (CheckKey(ams, keys, out DkimKeyRecord? key) is { } problem) return problem;
        if (body is null) return "body hash not computed";
        if (!CryptographicOperations.FixedTimeEquals(body.Complete(), ams.BodyHash)) return "body hash did not verify";
        byte[] hash = _dkim.ComputeHeaderHash(ams.SignedHeaders, headerCanonicalization, ams.RawName, ams.RawValue,
            ams.BValueStart, ams.BValueEnd);
        return key!.VerifySha256(hash, ams.Signature) ? null : "signature did not verify";
    }

    /// <summary>An AS over the sets 1..k (RFC 8617 5.1.1): for each instance AAR, AMS, AS in relaxed canonical form,
    /// the AS being verified last with its b= value removed and no final CRLF.</summary>
    private string? VerifySeal(int k, byte[][] canonical, Dictionary<string, DkimKeyRecordResult> keys)
    {
        ArcField seal = _seal[k];
        if (seal.Timestamp is long t && t > _dkim.Verifier.TimeProvider.GetUtcNow().ToUnixTimeSeconds()
                + (long)_dkim.Verifier.Options.ClockDrift.TotalSeconds)
            return "timestamp in the future";
        if (CheckKey(seal, keys, out DkimKeyRecord? key) is { } problem) return problem;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int j = 1; j <= k; j++)
        {
            hash.AppendData(canonical[3 * j - 3]);
            hash.AppendData(canonical[3 * j - 2]);
            if (j < k) hash.AppendData(canonical[3 * j - 1]);
        }
        DkimVerifierContext.AppendWithoutB(hash, DkimCanonicalization.Relaxed, seal.RawName, seal.RawValue,
            seal.BValueStart, seal.BValueEnd);
        return key!.VerifySha256(hash.GetHashAndReset(), seal.Signature) ? null : "signature did not verify";
    }

    /// <summary>Every ARC field of the chain in relaxed canonical form with CRLF, AAR/AMS/AS per instance, computed once.</summary>
    private byte[][] CanonicalSets()
    {
        var result = new byte[3 * _n][];
        for (int k = 1; k <= _n; k++)
        {
            result[3 * k - 3] = Canonical(_aar[k]);
            result[3 * k - 2] = Canonical(_ams[k]);
            result[3 * k - 1] = Canonical(_seal[k]);
        }
        return result;
    }

    internal static byte[] Canonical(ArcField f)
    {
        byte[] buffer = new byte[DkimHeaderCanonicalizer.MaxLength(f.RawName, f.RawValue)];
        int n = DkimHeaderCanonicalizer.Canonicalize(DkimCanonicalization.Relaxed, f.RawName, f.RawValue, appendCrlf: true, buffer);
        return buffer[..n];
    }

    private static readonly ArcFieldKind[] Kinds = [ArcFieldKind.AuthenticationResults, ArcFieldKind.MessageSignature, ArcFieldKind.Seal];

    private ArcField[] SlotsOf(ArcFieldKind kind) => kind switch
    {
        ArcFieldKind.Seal => _seal,
        ArcFieldKind.MessageSignature => _ams,
        _ => _aar,
    };

    internal static string Name(ArcFieldKind kind) => kind switch
    {
        ArcFieldKind.Seal => ArcFieldNames.Seal,
        ArcFieldKind.MessageSignature => ArcFieldNames.MessageSignature,
        _ => ArcFieldNames.AuthenticationResults,
    };

    private static string Describe(ArcField f) => f.Instance > 0 ? $"{Name(f.Kind)} i={f.Instance}" : Name(f.Kind);
}
