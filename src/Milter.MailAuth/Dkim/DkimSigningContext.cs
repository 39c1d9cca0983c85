using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Signs one message as it streams past: raw header fields in order, then body chunks, then
/// <see cref="Complete"/>. Only the header fields named in the signer's list are kept (bounded); the body
/// goes straight into the canonicalizer and hash. Not thread-safe (one message, one thread at a time).
/// </summary>
public sealed class DkimSigningContext : IDisposable
{
    private readonly DkimSigner _signer;
    private readonly DkimBodyHasher _body;
    private readonly List<KeptField> _fields = [];
    private int _keptBytes;
    private bool _tooMany;
    private bool _bodyStarted;
    private DkimSignResult? _result;

    internal DkimSigningContext(DkimSigner signer)
    {
        _signer = signer;
        _body = new DkimBodyHasher(signer.Options.BodyCanonicalization);
    }

    /// <summary>Adds one header field: the name as received (no colon) and the exact raw value bytes after the
    /// colon (folding CRLFs included, no final CRLF). Fields must be added in message order.</summary>
    public void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> rawValue)
    {
        if (_bodyStarted)
        {
            throw new InvalidOperationException("Header fields must be added before the body.");
        }
        ReadOnlySpan<byte> trimmed = name.TrimEnd(" \t"u8);
        byte[][] names = _signer.HeaderNameBytes;
        for (int i = 0; i < names.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(trimmed, names[i]))
            {
                if (_fields.Count >= _signer.Options.MaxSignedHeaderFields
                    || _keptBytes + name.Length + rawValue.Length > _signer.Options.MaxSignedHeaderBytes)
                {
                    _tooMany = true;
                    return;
                }
                _keptBytes += name.Length + rawValue.Length;
                _fields.Add(new KeptField(i, name.ToArray(), rawValue.ToArray()));
                return;
            }
        }
    }

    /// <summary>Adds one header field given as text, written as UTF-8 (use the byte overload for exact raw bytes).</summary>
    public void AddHeader(string name, string rawValue) =>
        AddHeader(Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(rawValue));

    public void AppendBody(ReadOnlySpan<byte> chunk)
    {
        _bodyStarted = true;
        _body.Append(chunk);
    }

    /// <summary>Ends the message and makes the signature.</summary>
    public DkimSignResult Complete()
    {
        if (_result is not null)
        {
            return _result;
        }
        if (_tooMany)
        {
            return _result = new DkimSignResult(null, "too many or too large header fields to sign");
        }
        DkimSignerOptions o = _signer.Options;
        string bodyHash = _body.CompleteBase64();

        // h=: each configured name once per instance, instances taken bottom-up (RFC 6376 5.4.2), then the
        // oversigned names once more so that an added instance breaks the signature (RFC 6376 8.15).
        var selected = new List<KeptField>(_fields.Count);
        var hNames = new List<string>(_fields.Count + 2);
        string[] names = _signer.HeaderNames;
        for (int n = 0; n < names.Length; n++)
        {
            for (int k = _fields.Count - 1; k >= 0; k--)
            {
                if (_fields[k].NameIndex == n)
                {
                    selected.Add(_fields[k]);
                    hNames.Add(names[n]);
                }
            }
        }
        for (int n = 0; n < names.Length; n++)
        {
            if (_signer.Oversigned[n])
            {
                hNames.Add(names[n]);
            }
        }

        long? t = null, x = null;
        if (o.IncludeTimestamp)
        {
            t = o.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
            if (o.SignatureLifetime is TimeSpan life)
            {
                x = t + (long)life.TotalSeconds;
            }
        }
        var fields = new DkimSignatureFields(o.Key.Algorithm, o.HeaderCanonicalization, o.BodyCanonicalization,
            o.Domain, o.Selector, t, x, o.Identity, hNames, bodyHash);
        // The field value with an empty b= (RFC 6376 3.7); normally everything up to "b=", the signature
        // then goes at the end.
        int column = 0;
        string template = o.FormatOverride is not null
            ? o.FormatOverride(fields)
            : DkimSignatureFormatter.FormatWithoutSignature(fields, out column);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (KeptField field in selected)
        {
            DkimHeaderCanonicalizer.AppendTo(hash, o.HeaderCanonicalization, field.Name, field.Value, appendCrlf: true);
        }
        // The signature field itself, with an empty b= and without its final CRLF (RFC 6376 3.7).
        // Its bytes in a pooled buffer (" " + template and its byte array were two allocations per signature, issue 16).
        byte[] own = ArrayPool<byte>.Shared.Rent(template.Length + 1);
        try
        {
            own[0] = (byte)' ';
            int length = 1 + Encoding.ASCII.GetBytes(template, own.AsSpan(1));
            DkimHeaderCanonicalizer.AppendTo(hash, o.HeaderCanonicalization, FieldNameBytes, own.AsSpan(0, length), appendCrlf: false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(own);
        }
        byte[] signature = o.Key.SignHash(hash.GetHashAndReset());
        string b64 = Convert.ToBase64String(signature);
        string value;
        if (o.FormatOverride is not null)
        {
            if (!DkimTagList.TryParse(template, out DkimTagList? tags, out string? error) || !tags!.TryGetTag("b", out DkimTag b))
            {
                throw new InvalidOperationException("The format override gave no valid b= tag: " + error);
            }
            value = template.Insert(b.ValueStart, b64);
        }
        else
        {
            value = DkimSignatureFormatter.AppendSignature(template, column, b64);
        }
        return _result = new DkimSignResult(new DkimSignatureHeader(value), null);
    }

    public void Dispose() => _body.Dispose();

    private static readonly byte[] FieldNameBytes = Encoding.ASCII.GetBytes(DkimSignatureHeader.FieldName);

    private readonly record struct KeptField(int NameIndex, byte[] Name, byte[] Value);
}
