using System.Buffers;
using System.Security.Cryptography;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Computes the DKIM body hash (bh=, RFC 6376 3.7): body chunks go through the canonicalizer straight into an
/// incremental SHA-256, optionally cut at a length limit (l=). Memory use is fixed (a small write buffer, rented from
/// the shared pool and given back at <see cref="Complete"/> or <see cref="Dispose"/>: a new 4 KB array per message was
/// the largest allocation of a verified or signed message, issue 16).
/// </summary>
public sealed class DkimBodyHasher : ICanonicalOutput, IDisposable
{
    private const int BufferSize = 4096;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly IBodyCanonicalizer _canonicalizer;
    private readonly long _limit;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _buffered;
    private byte[]? _result;

    /// <param name="canonicalization">body canonicalization</param>
    /// <param name="lengthLimit">number of canonical bytes to hash (l=), or negative for all</param>
    public DkimBodyHasher(DkimCanonicalization canonicalization, long lengthLimit = -1)
    {
        _canonicalizer = BodyCanonicalizer.Create(canonicalization, this);
        _limit = lengthLimit;
    }

    /// <summary>Total canonical body length (including any part beyond the limit).</summary>
    public long CanonicalLength { get; private set; }

    /// <summary>Number of canonical bytes that went into the hash.</summary>
    public long HashedLength { get; private set; }

    public void Append(ReadOnlySpan<byte> chunk) => _canonicalizer.Append(chunk);

    /// <summary>Ends the body and returns the SHA-256 of the canonical body (32 bytes).</summary>
    public byte[] Complete()
    {
        if (_result is null)
        {
            _canonicalizer.Complete();
            Flush();
            _result = _hash.GetHashAndReset();
            ReturnBuffer();
        }
        return _result;
    }

    /// <summary>Ends the body and returns the bh= value (base64 of the hash).</summary>
    public string CompleteBase64() => Convert.ToBase64String(Complete());

    void ICanonicalOutput.Write(ReadOnlySpan<byte> bytes)
    {
        CanonicalLength += bytes.Length;
        if (_limit >= 0)
        {
            long room = _limit - HashedLength;
            if (room <= 0)
            {
                return;
            }
            if (bytes.Length > room)
            {
                bytes = bytes[..(int)room];
            }
        }
        HashedLength += bytes.Length;
        if (bytes.Length > BufferSize - _buffered)
        {
            Flush();
            if (bytes.Length >= BufferSize)
            {
                _hash.AppendData(bytes);
                return;
            }
        }
        bytes.CopyTo(_buffer.AsSpan(_buffered)); // never null here: the canonicalizer writes nothing after Complete
        _buffered += bytes.Length;
    }

    private void Flush()
    {
        if (_buffered > 0)
        {
            _hash.AppendData(_buffer!, 0, _buffered);
            _buffered = 0;
        }
    }

    private void ReturnBuffer()
    {
        var buffer = _buffer;
        _buffer = null;
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }

    public void Dispose()
    {
        ReturnBuffer();
        _hash.Dispose();
    }
}
