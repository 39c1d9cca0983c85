using System.Text;

namespace Milter.MailAuth.Dkim;

/// <summary>Signing algorithms a DKIM-Signature can name (a=, RFC 6376 3.5, RFC 8463).</summary>
public enum DkimSignatureAlgorithm
{
    RsaSha256,
    Ed25519Sha256,
    /// <summary>Recognized only to report it: RFC 8301 3.1 forbids verifying with it.</summary>
    RsaSha1,
}

/// <summary>
/// One parsed DKIM-Signature field (RFC 6376 3.5). <see cref="Parse"/> never throws: a field that cannot be
/// used carries <see cref="Error"/> and <see cref="ErrorResult"/>, with as many reporting fields (d=, s=, a=,
/// i=, b=) filled in as could be read. Syntax is strict (tag list, digits, base64), whitespace lenient (FWS
/// around tags and inside b=, bh= and h=). Unknown tags are ignored.
/// </summary>
public sealed class DkimVerifierSignature
{
    /// <summary>Largest raw field value accepted (a signature is normally under 1 KiB).</summary>
    public const int MaxFieldLength = 16 * 1024;

    /// <summary>Most header names accepted in h=.</summary>
    public const int MaxSignedHeaders = 128;

    private DkimVerifierSignature(ReadOnlyMemory<byte> rawName, ReadOnlyMemory<byte> rawValue)
    {
        RawName = rawName;
        RawValue = rawValue;
    }

    /// <summary>The field name as received (bytes before the colon).</summary>
    public ReadOnlyMemory<byte> RawName { get; }

    /// <summary>The field value as received (bytes after the colon, folding included).</summary>
    public ReadOnlyMemory<byte> RawValue { get; }

    /// <summary>Why the signature cannot be verified, or null when it is well formed.</summary>
    public string? Error { get; private set; }

    /// <summary>The result to report when <see cref="Error"/> is set (neutral or permerror).</summary>
    public DkimResult ErrorResult { get; private set; }

    public bool IsValid => Error is null;

    public string Domain { get; private set; } = "";

    public string Selector { get; private set; } = "";

    /// <summary>a= lower-cased, as written.</summary>
    public string AlgorithmName { get; private set; } = "";

    public DkimSignatureAlgorithm Algorithm { get; private set; }

    /// <summary>i= decoded from dkim-quoted-printable (RFC 6376 3.5), or null when absent; as written when it is
    /// not valid dkim-quoted-printable (the signature is then permerror).</summary>
    public string? Identity { get; private set; }

    private bool _identityEncodingBad;

    /// <summary>header.i: i= or "@" + d=.</summary>
    public string HeaderI => Identity ?? (Domain.Length > 0 ? "@" + Domain : "");

    /// <summary>The domain part of i= (or d= when i= is absent).</summary>
    public string IdentityDomain { get; private set; } = "";

    /// <summary>First 8 characters of b= (header.b).</summary>
    public string HeaderB { get; private set; } = "";

    public byte[] Signature { get; private set; } = [];

    public byte[] BodyHash { get; private set; } = [];

    public DkimCanonicalization HeaderCanonicalization { get; private set; }

    public DkimCanonicalization BodyCanonicalization { get; private set; }

    /// <summary>h= names, whitespace removed, in order.</summary>
    public IReadOnlyList<string> SignedHeaders { get; private set; } = [];

    /// <summary>l=, or -1 when absent.</summary>
    public long BodyLength { get; private set; } = -1;

    /// <summary>t= (seconds since the epoch), or null.</summary>
    public long? Timestamp { get; private set; }

    /// <summary>x= (seconds since the epoch), or null.</summary>
    public long? Expiration { get; private set; }

    /// <summary>Byte range in <see cref="RawValue"/> removed to form the "b= empty" field for the header hash:
    /// from just after "b=" to the end of the value (FWS before the value included, FWS after it kept).</summary>
    internal int BValueStart { get; private set; }

    internal int BValueEnd { get; private set; }

    /// <summary>Parses a DKIM-Signature field from its raw name and value bytes.</summary>
    public static DkimVerifierSignature Parse(ReadOnlyMemory<byte> rawName, ReadOnlyMemory<byte> rawValue)
    {
        var sig = new DkimVerifierSignature(rawName, rawValue);
        if (rawValue.Length > MaxFieldLength)
        {
            return sig.Fail(DkimResult.Neutral, "signature field too large");
        }
        // Latin-1 keeps one char per byte, so tag positions are byte offsets into the raw value.
        string text = Encoding.Latin1.GetString(rawValue.Span);
        if (!DkimTagList.TryParse(text, out DkimTagList? tags, out string? error))
        {
            return sig.Fail(DkimResult.Neutral, "malformed signature: " + error);
        }
        sig.ReadReportingFields(tags!);
        sig.Validate(tags!);
        return sig;
    }

    /// <summary>Fields shown in results, read before validation so that even broken signatures say whose they are.</summary>
    private void ReadReportingFields(DkimTagList tags)
    {
        Domain = Utf8(tags["d"] ?? "");
        Selector = tags["s"] ?? "";
        AlgorithmName = (tags["a"] ?? "").ToLowerInvariant();
        if (tags.TryGetValue("i", out string i))
        {
            _identityEncodingBad = !DkimQuotedPrintable.TryDecode(i, out string decoded);
            Identity = _identityEncodingBad ? Utf8(i) : decoded;
        }
        if (tags.TryGetValue("b", out string b))
        {
            HeaderB = FirstChars(b, 8);
        }
    }

    private void Validate(DkimTagList tags)
    {
        if (!tags.TryGetValue("v", out string v))
        {
            Fail(DkimResult.Neutral, "signature missing required tag v=");
            return;
        }
        if (v != "1")
        {
            Fail(DkimResult.Neutral, "unsupported signature version");
            return;
        }
        foreach (string required in RequiredTags)
        {
            if (!tags.TryGetValue(required, out _))
            {
                Fail(DkimResult.Neutral, "signature missing required tag " + required + "=");
                return;
            }
        }
        if (!ReadAlgorithm() || !ReadBase64(tags) || !ReadCanonicalization(tags) || !ReadDomainAndSelector()
            || !ReadSignedHeaders(tags["h"]!) || !ReadNumbers(tags) || !ReadQueryMethods(tags) || !CheckIdentity())
        {
            return;
        }
        tags.TryGetTag("b", out DkimTag bTag);
        BValueStart = bTag.ValueStart;
        int end = bTag.ValueEnd;
        while (end > BValueStart && IsFws(text: RawValue.Span[end - 1]))
        {
            end--;
        }
        BValueEnd = end;
    }

    private static readonly string[] RequiredTags = ["a", "b", "bh", "d", "h", "s"];

    private bool ReadAlgorithm()
    {
        switch (AlgorithmName)
        {
            case "rsa-sha256":
                Algorithm = DkimSignatureAlgorithm.RsaSha256;
                return true;
            case "ed25519-sha256":
                Algorithm = DkimSignatureAlgorithm.Ed25519Sha256;
                return true;
            case "rsa-sha1":
                Algorithm = DkimSignatureAlgorithm.RsaSha1;
                return true;
            default:
                Fail(DkimResult.Neutral, "unsupported algorithm");
                return false;
        }
    }

    private bool ReadBase64(DkimTagList tags)
    {
        byte[]? b = DecodeBase64(tags["b"]!);
        if (b is null || b.Length == 0)
        {
            Fail(DkimResult.Neutral, "malformed b= (bad base64)");
            return false;
        }
        byte[]? bh = DecodeBase64(tags["bh"]!);
        if (bh is null || bh.Length == 0)
        {
            Fail(DkimResult.Neutral, "malformed bh= (bad base64)");
            return false;
        }
        Signature = b;
        BodyHash = bh;
        return true;
    }

    private bool ReadCanonicalization(DkimTagList tags)
    {
        if (!tags.TryGetValue("c", out string c))
        {
            return true; // default simple/simple
        }
        if (!DkimCanonicalizationNames.TryParsePair(c, out DkimCanonicalization header, out DkimCanonicalization body))
        {
            Fail(DkimResult.Neutral, "unsupported canonicalization");
            return false;
        }
        HeaderCanonicalization = header;
        BodyCanonicalization = body;
        return true;
    }

    private bool ReadDomainAndSelector()
    {
        if (!DkimKeyRecordName.IsValidDomain(Domain))
        {
            Fail(DkimResult.Neutral, "malformed d=");
            return false;
        }
        if (!DkimKeyRecordName.IsValidSelector(Selector))
        {
            Fail(DkimResult.Neutral, "malformed s=");
            return false;
        }
        return true;
    }

    /// <summary>h= is a colon-separated list of field names with FWS allowed around each (RFC 6376 3.5);
    /// it MUST include From (RFC 6376 5.4, 6.1.1).</summary>
    private bool ReadSignedHeaders(string h)
    {
        var names = new List<string>();
        bool hasFrom = false;
        int start = 0;
        while (start <= h.Length)
        {
            int colon = h.IndexOf(':', start);
            int end = colon < 0 ? h.Length : colon;
            string name = h.AsSpan(start, end - start).Trim(" \t\r\n").ToString();
            if (name.Length == 0 || !IsFieldName(name))
            {
                Fail(DkimResult.Neutral, "malformed h=");
                return false;
            }
            if (names.Count == MaxSignedHeaders)
            {
                Fail(DkimResult.Neutral, "h= lists too many fields");
                return false;
            }
            names.Add(name);
            hasFrom |= name.Equals("from", StringComparison.OrdinalIgnoreCase);
            start = end + 1;
        }
        SignedHeaders = names;
        if (!hasFrom)
        {
            Fail(DkimResult.PermError, "From field not signed");
            return false;
        }
        return true;
    }

    private bool ReadNumbers(DkimTagList tags)
    {
        if (tags.TryGetValue("l", out string l))
        {
            if (!TryReadDigits(l, 76, out long length))
            {
                Fail(DkimResult.Neutral, "malformed l=");
                return false;
            }
            BodyLength = length;
        }
        if (tags.TryGetValue("t", out string t))
        {
            if (!TryReadDigits(t, 12, out long timestamp))
            {
                Fail(DkimResult.Neutral, "malformed t=");
                return false;
            }
            Timestamp = timestamp;
        }
        if (tags.TryGetValue("x", out string x))
        {
            if (!TryReadDigits(x, 12, out long expiration))
            {
                Fail(DkimResult.Neutral, "malformed x=");
                return false;
            }
            Expiration = expiration;
        }
        // RFC 6376 3.5 x=: "MUST be greater than the value of the t= tag if both are present".
        if (Timestamp is long ts && Expiration is long ex && ex <= ts)
        {
            Fail(DkimResult.PermError, "x= is not after t=");
            return false;
        }
        return true;
    }

    /// <summary>q= is a colon-separated list; "dns/txt" is the only defined method (RFC 6376 3.5).</summary>
    private bool ReadQueryMethods(DkimTagList tags)
    {
        if (!tags.TryGetValue("q", out string q))
        {
            return true;
        }
        foreach (string method in q.Split(':'))
        {
            if (method.AsSpan().Trim(" \t\r\n").Equals("dns/txt", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        Fail(DkimResult.Neutral, "unsupported query method");
        return false;
    }

    /// <summary>i= ("[Local-part] @ domain", dkim-quoted-printable) must be the d= domain or a subdomain of it
    /// (RFC 6376 3.5, 6.1.1); it is checked decoded, so "jlong=40example.com" is jlong@example.com.</summary>
    private bool CheckIdentity()
    {
        if (Identity is null)
        {
            IdentityDomain = Domain;
            return true;
        }
        if (_identityEncodingBad)
        {
            Fail(DkimResult.PermError, "malformed i= (not dkim-quoted-printable)");
            return false;
        }
        int at = Identity.LastIndexOf('@');
        if (at < 0 || HasControl(Identity))
        {
            Fail(DkimResult.Neutral, "malformed i=");
            return false;
        }
        string domain = Identity[(at + 1)..];
        if (!DkimKeyRecordName.IsValidDomain(domain))
        {
            Fail(DkimResult.Neutral, "malformed i=");
            return false;
        }
        if (!DkimKeyRecordName.IsSameOrSubdomain(domain, Domain))
        {
            Fail(DkimResult.PermError, "i= domain not within d=");
            return false;
        }
        IdentityDomain = domain;
        return true;
    }

    private DkimVerifierSignature Fail(DkimResult result, string reason)
    {
        Error = reason;
        ErrorResult = result;
        return this;
    }

    /// <summary>Decodes base64 with FWS anywhere (Convert skips space, tab, CR and LF); null when invalid.</summary>
    internal static byte[]? DecodeBase64(string value)
    {
        if (value.Length == 0)
        {
            return [];
        }
        byte[] buffer = new byte[value.Length / 4 * 3 + 3];
        return Convert.TryFromBase64String(value, buffer, out int written) ? buffer[..written] : null;
    }

    private static bool TryReadDigits(string value, int maxDigits, out long number)
    {
        number = 0;
        if (value.Length == 0 || value.Length > maxDigits)
        {
            return false;
        }
        foreach (char c in value)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
            // saturate: an l= beyond any real body size means "the whole body"
            number = number > (long.MaxValue - 9) / 10 ? long.MaxValue : number * 10 + (c - '0');
        }
        return true;
    }

    /// <summary>ftext: printable US-ASCII except colon (RFC 5322 3.6.8).</summary>
    private static bool IsFieldName(string name)
    {
        foreach (char c in name)
        {
            if (c < '!' || c > '~' || c == ':')
            {
                return false;
            }
        }
        return true;
    }

    private static string FirstChars(string value, int count)
    {
        Span<char> buffer = stackalloc char[count];
        int n = 0;
        foreach (char c in value)
        {
            if (IsFws(c))
            {
                continue;
            }
            buffer[n++] = c;
            if (n == count)
            {
                break;
            }
        }
        return new string(buffer[..n]);
    }

    /// <summary>Values were decoded as Latin-1 (one char per byte); re-read non-ASCII ones as UTF-8 (RFC 8616).</summary>
    private static string Utf8(string latin1)
    {
        foreach (char c in latin1)
        {
            if (c > '\x7f')
            {
                return Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(latin1));
            }
        }
        return latin1;
    }

    private static bool IsFws(char c) => c is ' ' or '\t' or '\r' or '\n';

    private static bool HasControl(string value) => value.AsSpan().ContainsAnyInRange('\0', '\x1f') || value.Contains('\x7f');

    private static bool IsFws(byte text) => text is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
}
