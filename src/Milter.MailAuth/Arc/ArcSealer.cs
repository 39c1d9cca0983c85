using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Arc;

/// <summary>Settings of an <see cref="ArcSealer"/>.</summary>
public sealed record ArcSealerOptions
{
    public required string Domain { get; init; }
    public required string Selector { get; init; }
    public required DkimPrivateKey Key { get; init; }

    /// <summary>Header fields the AMS signs (h=); null for <see cref="ArcSealer.DefaultSignedHeaders"/>.</summary>
    public IReadOnlyList<string>? SignedHeaders { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>One header field to add.</summary>
public sealed record ArcHeader(string Name, string Value)
{
    /// <summary>The whole field without the final CRLF.</summary>
    public string Field => Name + ": " + Value;
}

/// <summary>The new ARC set (<see cref="Headers"/>: AAR, AMS, AS; insert each at the top in this order so the AS is
/// first), or why none was added: <see cref="Skipped"/> when RFC 8617 says not to seal, <see cref="Error"/> when
/// the message cannot be sealed.</summary>
public sealed record ArcSealResult(IReadOnlyList<ArcHeader> Headers, string? Skipped, string? Error)
{
    public bool Sealed => Headers.Count > 0;
}

/// <summary>
/// Adds the next ARC set to a message (RFC 8617 5.1): the ARC-Authentication-Results with the given results, an
/// ARC-Message-Signature over the message as it leaves (relaxed/relaxed) and an ARC-Seal over the chain with cv=
/// from the caller's validation. Thread-safe. Tags are written in alphabetical order with lower-case values
/// (the ValiMail suite's standard form, 'Signing Header Format Standardization'); fields are folded only after
/// the ";" between tags, which relaxed canonicalization cannot tell from one space.
/// </summary>
public sealed class ArcSealer
{
    /// <summary>What the AMS signs by default: the fields DKIM signers usually sign, the DKIM-Signatures already on
    /// the message (RFC 8617 4.1.2 SHOULD) and the list fields a mailing list adds.</summary>
    public static readonly IReadOnlyList<string> DefaultSignedHeaders =
    [
        "from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to", "references", "mime-version",
        "content-type", "content-transfer-encoding", "dkim-signature", "list-id", "list-unsubscribe", "list-post",
    ];

    private const int Width = 78;

    private readonly ArcSealerOptions _options;
    private readonly string[] _signed;

    public ArcSealer(ArcSealerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Key);
        if (!DkimKeyRecordName.IsValidDomain(options.Domain))
            throw new ArgumentException($"Invalid ARC sealing domain \"{options.Domain}\".", nameof(options));
        if (!DkimKeyRecordName.IsValidSelector(options.Selector))
            throw new ArgumentException($"Invalid ARC selector \"{options.Selector}\".", nameof(options));
        var names = new List<string>();
        foreach (string name in options.SignedHeaders ?? DefaultSignedHeaders)
        {
            string lower = name.Trim().ToLowerInvariant();
            // RFC 8617 4.1.2: ARC fields and Authentication-Results must not be signed by the AMS.
            if (lower.Length == 0 || lower.Contains(':', StringComparison.Ordinal) || ArcFieldNames.KindOf(lower) is not null
                || lower == "authentication-results")
                throw new ArgumentException($"The AMS cannot sign the header field \"{name}\" (RFC 8617 4.1.2).", nameof(options));
            if (!names.Contains(lower)) names.Add(lower);
        }
        if (!names.Contains("from")) throw new ArgumentException("The AMS must sign From.", nameof(options));
        _options = options;
        _signed = [.. names];
    }

    public ArcSealerOptions Options => _options;

    /// <summary>Seals a message.</summary>
    /// <param name="headers">the header fields of the message as it leaves, top first (with the
    /// Authentication-Results just added)</param>
    /// <param name="relaxedBodyHash">SHA-256 of the relaxed canonical body (a <see cref="DkimBodyHasher"/> with
    /// relaxed canonicalization and no limit)</param>
    /// <param name="chainValidation">the chain validation status found on arrival (cv=)</param>
    /// <param name="authenticationResults">the AAR payload: authserv-id and results, as in an Authentication-Results
    /// value (RFC 8617 4.1.1)</param>
    public ArcSealResult Seal(IReadOnlyList<RawHeaderField> headers, ReadOnlySpan<byte> relaxedBodyHash,
        ArcResult chainValidation, string authenticationResults)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(authenticationResults);
        var chain = new List<ArcField>();
        int n = 0;
        foreach (RawHeaderField field in headers)
        {
            if (ArcFieldNames.KindOf(field.NameString) is not { } kind) continue;
            // Skipped, not an error: the sender chose these fields, and an error would tempfail the message for ever.
            if (chain.Count == 3 * ArcFieldNames.MaxInstance) return new ArcSealResult([], "too many ARC header fields", null);
            var f = ArcField.Parse(kind, field.Name.Span, field.Value.Span);
            chain.Add(f);
            n = Math.Max(n, f.Instance);
        }
        // RFC 8617 5.1 step 2: the newest seal says the chain failed, so no set is added.
        if (chain.Any(f => f is { Kind: ArcFieldKind.Seal, IsValid: true, ChainValidation: "fail" } && f.Instance == n) && n > 0)
            return new ArcSealResult([], "the newest ARC-Seal has cv=fail", null);
        int instance = n + 1;
        if (instance > ArcFieldNames.MaxInstance)
            return new ArcSealResult([], $"the chain already has {ArcFieldNames.MaxInstance} sets (RFC 8617 4.2.1)", null);
        string cv = chainValidation switch { ArcResult.Pass => "pass", ArcResult.Fail => "fail", _ => "none" };
        if ((cv == "none") != (n == 0) && cv != "fail")
            return new ArcSealResult([], null, $"cv={cv} does not fit a chain of {n} sets");

        // The previous sets the seal covers, in increasing instance order (5.1.1); none for a failed chain (5.1.2).
        var previous = new List<byte[]>();
        if (cv == "pass")
        {
            for (int k = 1; k <= n; k++)
            {
                foreach (ArcFieldKind kind in new[] { ArcFieldKind.AuthenticationResults, ArcFieldKind.MessageSignature, ArcFieldKind.Seal })
                {
                    var matches = chain.Where(f => f.Kind == kind && f.Instance == k).ToList();
                    if (matches.Count != 1) return new ArcSealResult([], null, $"the chain given as passing has no single {ArcVerifierContext.Name(kind)} i={k}");
                    previous.Add(ArcVerifierContext.Canonical(matches[0]));
                }
            }
        }

        string i = instance.ToString(CultureInfo.InvariantCulture);
        string t = _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string a = _options.Key.Algorithm;
        string d = _options.Domain.ToLowerInvariant(), s = _options.Selector.ToLowerInvariant();

        var aar = new ArcHeader(ArcFieldNames.AuthenticationResults, Fold($"i={i}; " + authenticationResults.Replace("\r\n", "", StringComparison.Ordinal).Trim(), ArcFieldNames.AuthenticationResults));

        // AMS: like a DKIM signature (RFC 6376 5), the h= fields taken from the bottom, then the AMS with b= empty.
        var selected = new List<RawHeaderField>();
        var hNames = new List<string>();
        foreach (string name in _signed)
        {
            int count = 0;
            for (int k = headers.Count - 1; k >= 0; k--)
            {
                if (headers[k].NameString.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    selected.Add(headers[k]);
                    hNames.Add(name);
                    count++;
                }
            }
            if (count == 0 && name == "from") return new ArcSealResult([], "the message has no From field", null);
        }
        string bh = Convert.ToBase64String(relaxedBodyHash);
        string h = string.Join(':', hNames);
        string amsTemplate(string b) => $"a={a}; b={b}; bh={bh}; c=relaxed/relaxed; d={d}; h={h}; i={i}; s={s}; t={t}";
        byte[] amsSignature;
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (RawHeaderField f in selected)
                DkimHeaderCanonicalizer.AppendTo(hash, DkimCanonicalization.Relaxed, f.Name.Span, f.Value.Span, appendCrlf: true);
            DkimHeaderCanonicalizer.AppendTo(hash, DkimCanonicalization.Relaxed, Ascii(ArcFieldNames.MessageSignature),
                Ascii(" " + amsTemplate("")), appendCrlf: false);
            amsSignature = _options.Key.SignHash(hash.GetHashAndReset());
        }
        var ams = new ArcHeader(ArcFieldNames.MessageSignature, Fold(amsTemplate(Convert.ToBase64String(amsSignature)), ArcFieldNames.MessageSignature));

        // AS: the previous sets, then this AAR, this AMS and this AS with b= empty (RFC 8617 5.1.1).
        string asTemplate(string b) => $"a={a}; b={b}; cv={cv}; d={d}; i={i}; s={s}; t={t}";
        byte[] asSignature;
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (byte[] canonical in previous) hash.AppendData(canonical);
            foreach (ArcHeader f in new[] { aar, ams })
                DkimHeaderCanonicalizer.AppendTo(hash, DkimCanonicalization.Relaxed, Ascii(f.Name), Ascii(" " + f.Value), appendCrlf: true);
            DkimHeaderCanonicalizer.AppendTo(hash, DkimCanonicalization.Relaxed, Ascii(ArcFieldNames.Seal),
                Ascii(" " + asTemplate("")), appendCrlf: false);
            asSignature = _options.Key.SignHash(hash.GetHashAndReset());
        }
        var seal = new ArcHeader(ArcFieldNames.Seal, Fold(asTemplate(Convert.ToBase64String(asSignature)), ArcFieldNames.Seal));
        return new ArcSealResult([aar, ams, seal], null, null);
    }

    /// <summary>Folds before <see cref="Width"/> columns, only at a space that follows a ";" (so relaxed
    /// canonicalization, which makes the fold one space again, sees the same bytes).</summary>
    internal static string Fold(string value, string name)
    {
        var sb = new StringBuilder(value.Length + 16);
        int column = name.Length + 2;
        int pos = 0;
        while (pos < value.Length)
        {
            int next = value.IndexOf("; ", pos, StringComparison.Ordinal);
            int end = next < 0 ? value.Length : next + 1;
            if (pos > 0 && column + 1 + (end - pos) > Width)
            {
                sb.Append("\r\n ");
                column = 1;
            }
            else if (pos > 0)
            {
                sb.Append(' ');
                column++;
            }
            sb.Append(value, pos, end - pos);
            column += end - pos;
            pos = next < 0 ? value.Length : next + 2;
        }
        return sb.ToString();
    }

    private static byte[] Ascii(string s) => Encoding.UTF8.GetBytes(s);
}
