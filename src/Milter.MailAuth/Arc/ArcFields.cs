using System.Text;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Arc;

/// <summary>The three ARC header fields (RFC 8617 4.1).</summary>
public enum ArcFieldKind
{
    AuthenticationResults,
    MessageSignature,
    Seal,
}

/// <summary>Names and limits of the ARC header fields (RFC 8617 4.1, 4.2.1).</summary>
public static class ArcFieldNames
{
    public const string AuthenticationResults = "ARC-Authentication-Results";
    public const string MessageSignature = "ARC-Message-Signature";
    public const string Seal = "ARC-Seal";

    /// <summary>Instance values range from 1 to 50 (RFC 8617 4.2.1).</summary>
    public const int MaxInstance = 50;

    /// <summary>The kind of an ARC field name (case-insensitive, trailing WSP ignored), or null for any other field.</summary>
    public static ArcFieldKind? KindOf(string name)
    {
        // A span trim: TrimEnd(' ', '\t') allocated its character array on every header field of every message.
        var trimmed = name.AsSpan().TrimEnd(" \t");
        if (trimmed.Equals(Seal, StringComparison.OrdinalIgnoreCase)) return ArcFieldKind.Seal;
        if (trimmed.Equals(MessageSignature, StringComparison.OrdinalIgnoreCase)) return ArcFieldKind.MessageSignature;
        if (trimmed.Equals(AuthenticationResults, StringComparison.OrdinalIgnoreCase)) return ArcFieldKind.AuthenticationResults;
        return null;
    }

    /// <summary>An instance value: 1*2DIGIT in 1..50 (RFC 8617 4.2.1); 0 when it is not one.</summary>
    internal static int ParseInstance(string value)
    {
        if (value.Length is < 1 or > 2 || !value.All(char.IsAsciiDigit)) return 0;
        int n = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return n is >= 1 and <= MaxInstance ? n : 0;
    }
}

/// <summary>
/// One ARC header field as received, parsed. <see cref="Parse"/> never throws: a field that cannot be used has
/// <see cref="Error"/> set (the chain then fails, RFC 8617 5.2.1). <see cref="Instance"/> is 0 when i= is missing or
/// outside 1..50. AMS and AS are tag lists like DKIM-Signature (RFC 8617 4.1.2, 4.1.3); the AAR starts with
/// "i=N;" followed by an Authentication-Results payload (4.1.1).
/// </summary>
public sealed class ArcField
{
    private ArcField(ArcFieldKind kind, byte[] rawName, byte[] rawValue)
    {
        Kind = kind;
        RawName = rawName;
        RawValue = rawValue;
    }

    public ArcFieldKind Kind { get; }

    public byte[] RawName { get; }

    public byte[] RawValue { get; }

    public int Instance { get; private set; }

    public string? Error { get; private set; }

    public bool IsValid => Error is null;

    /// <summary>d= (AMS, AS).</summary>
    public string Domain { get; private set; } = "";

    /// <summary>s= (AMS, AS).</summary>
    public string Selector { get; private set; } = "";

    public DkimSignatureAlgorithm Algorithm { get; private set; }

    public byte[] Signature { get; private set; } = [];

    /// <summary>bh= (AMS).</summary>
    public byte[] BodyHash { get; private set; } = [];

    /// <summary>cv= of an AS, lower-cased: none, pass or fail ("" when missing or invalid).</summary>
    public string ChainValidation { get; private set; } = "";

    public DkimCanonicalization HeaderCanonicalization { get; private set; }

    public DkimCanonicalization BodyCanonicalization { get; private set; }

    /// <summary>False when an AMS has no c= (simple/simple by RFC 6376 3.5).</summary>
    public bool CanonicalizationGiven { get; private set; }

    /// <summary>h= names of an AMS, in order; empty names are kept (they select no field).</summary>
    public IReadOnlyList<string> SignedHeaders { get; private set; } = [];

    /// <summary>l= of an AMS, or -1.</summary>
    public long BodyLength { get; private set; } = -1;

    public long? Timestamp { get; private set; }

    public long? Expiration { get; private set; }

    /// <summary>The AAR's Authentication-Results payload after "i=N;" (authserv-id and results).</summary>
    public string Payload { get; private set; } = "";

    /// <summary>Byte range of the b= value in <see cref="RawValue"/> (AMS, AS), removed for the header hash.</summary>
    internal int BValueStart { get; private set; }

    internal int BValueEnd { get; private set; }

    /// <summary>Parses one ARC field from its raw name and value bytes.</summary>
    public static ArcField Parse(ArcFieldKind kind, ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> rawValue)
    {
        var field = new ArcField(kind, rawName.ToArray(), rawValue.ToArray());
        if (rawValue.Length > DkimVerifierSignature.MaxFieldLength)
        {
            return field.Fail("field too large");
        }
        // Latin-1 keeps one char per byte, so tag positions are byte offsets into the raw value.
        string text = Encoding.Latin1.GetString(rawValue);
        if (kind == ArcFieldKind.AuthenticationResults)
        {
            field.ParseAar(text);
        }
        else if (!DkimTagList.TryParse(text, out DkimTagList? tags, out string? error))
        {
            field.Fail("malformed tag list: " + error);
        }
        else
        {
            field.ParseTags(tags!);
        }
        return field;
    }

    /// <summary>arc-info = instance [CFWS] ";" authres-payload; instance = [FWS] "i" [FWS] "=" [FWS] 1*2DIGIT
    /// [FWS] (RFC 8617 4.1.1, 4.2.1). A comment before the ";" is accepted.</summary>
    private void ParseAar(string text)
    {
        int pos = SkipFws(text, 0);
        if (pos >= text.Length || text[pos] != 'i') { Fail("AAR does not start with i="); return; }
        pos = SkipFws(text, pos + 1);
        if (pos >= text.Length || text[pos] != '=') { Fail("AAR does not start with i="); return; }
        pos = SkipFws(text, pos + 1);
        int start = pos;
        while (pos < text.Length && char.IsAsciiDigit(text[pos])) pos++;
        Instance = ArcFieldNames.ParseInstance(text[start..pos]);
        if (Instance == 0) { Fail("AAR i= is not an instance 1..50"); return; }
        pos = SkipFws(text, pos);
        if (pos < text.Length && text[pos] == '(')
        {
            int close = text.IndexOf(')', pos);
            pos = close < 0 ? text.Length : SkipFws(text, close + 1);
        }
        if (pos >= text.Length || text[pos] != ';') { Fail("AAR i= is not followed by ';'"); return; }
        Payload = text[(pos + 1)..].Trim(' ', '\t', '\r', '\n');
        if (Payload.Length == 0) Fail("AAR has no authentication results");
    }

    private void ParseTags(DkimTagList tags)
    {
        if (!tags.TryGetValue("i", out string i)) { Fail("i= missing"); return; }
        Instance = ArcFieldNames.ParseInstance(i);
        if (Instance == 0) { Fail("i= is not an instance 1..50"); return; }
        foreach (string required in Kind == ArcFieldKind.Seal ? SealTags : SignatureTags)
        {
            if (!tags.TryGetValue(required, out _)) { Fail(required + "= missing"); return; }
        }
        Domain = tags["d"]!;
        Selector = tags["s"]!;
        if (!DkimKeyRecordName.IsValidDomain(Domain)) { Fail("malformed d="); return; }
        if (!DkimKeyRecordName.IsValidSelector(Selector)) { Fail("malformed s="); return; }
        switch (tags["a"])
        {
            case "rsa-sha256": Algorithm = DkimSignatureAlgorithm.RsaSha256; break;
            case "ed25519-sha256": Algorithm = DkimSignatureAlgorithm.Ed25519Sha256; break;
            default: Fail("unsupported algorithm a=" + Truncate(tags["a"]!)); return;
        }
        byte[]? b = DkimVerifierSignature.DecodeBase64(tags["b"]!);
        if (b is null || b.Length == 0) { Fail("malformed b="); return; }
        Signature = b;
        if (!ReadNumber(tags, "t", out long? t) || !ReadNumber(tags, "x", out long? x)) return;
        Timestamp = t;
        Expiration = x;
        if (Kind == ArcFieldKind.Seal ? !ReadSealTags(tags) : !ReadSignatureTags(tags)) return;
        tags.TryGetTag("b", out DkimTag bTag);
        BValueStart = bTag.ValueStart;
        int end = bTag.ValueEnd;
        while (end > BValueStart && RawValue[end - 1] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') end--;
        BValueEnd = end;
    }

    private static readonly string[] SealTags = ["a", "b", "cv", "d", "s"];

    private static readonly string[] SignatureTags = ["a", "b", "bh", "d", "h", "s"];

    /// <summary>RFC 8617 4.1.3: an AS has no h= (its presence is a failure) and a cv= of none, pass or fail; only
    /// relaxed header canonicalization.</summary>
    private bool ReadSealTags(DkimTagList tags)
    {
        if (tags.TryGetValue("h", out _)) { Fail("ARC-Seal must not have h="); return false; }
        string cv = tags["cv"]!.ToLowerInvariant();
        if (cv is not ("none" or "pass" or "fail")) { Fail("cv= is not none, pass or fail"); return false; }
        ChainValidation = cv;
        HeaderCanonicalization = DkimCanonicalization.Relaxed;
        return true;
    }

    /// <summary>RFC 8617 4.1.2: DKIM-Signature syntax without v= (ignored when present) and with i= the instance;
    /// ARC-Seal must not be signed.</summary>
    private bool ReadSignatureTags(DkimTagList tags)
    {
        byte[]? bh = DkimVerifierSignature.DecodeBase64(tags["bh"]!);
        if (bh is null || bh.Length == 0) { Fail("malformed bh="); return false; }
        BodyHash = bh;
        if (tags.TryGetValue("c", out string c))
        {
            if (!DkimCanonicalizationNames.TryParsePair(c, out DkimCanonicalization header, out DkimCanonicalization body))
            {
                Fail("unsupported canonicalization c=");
                return false;
            }
            HeaderCanonicalization = header;
            BodyCanonicalization = body;
            CanonicalizationGiven = true;
        }
        var names = new List<string>();
        foreach (string part in tags["h"]!.Split(':'))
        {
            string name = part.Trim(' ', '\t', '\r', '\n');
            if (name.Equals(ArcFieldNames.Seal, StringComparison.OrdinalIgnoreCase)) { Fail("h= signs ARC-Seal"); return false; }
            if (names.Count == DkimVerifierSignature.MaxSignedHeaders) { Fail("h= lists too many fields"); return false; }
            if (name.Length > 0) names.Add(name);
        }
        SignedHeaders = names;
        if (tags.TryGetValue("l", out string l))
        {
            if (l.Length is 0 or > 18 || !l.All(char.IsAsciiDigit)) { Fail("malformed l="); return false; }
            BodyLength = long.Parse(l, System.Globalization.CultureInfo.InvariantCulture);
        }
        return true;
    }

    private bool ReadNumber(DkimTagList tags, string name, out long? number)
    {
        number = null;
        if (!tags.TryGetValue(name, out string value)) return true;
        if (value.Length is 0 or > 12 || !value.All(char.IsAsciiDigit))
        {
            Fail("malformed " + name + "=");
            return false;
        }
        number = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return true;
    }

    private ArcField Fail(string reason)
    {
        Error ??= reason;
        return this;
    }

    private static int SkipFws(string text, int pos)
    {
        while (pos < text.Length && text[pos] is ' ' or '\t' or '\r' or '\n') pos++;
        return pos;
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "...";
}
