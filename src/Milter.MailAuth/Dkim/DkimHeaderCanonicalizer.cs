using System.Buffers;
using System.Security.Cryptography;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Header field canonicalization (RFC 6376 3.4.1 simple, 3.4.2 relaxed) over exact raw bytes: the field name
/// as received (bytes before the colon, possibly with trailing WSP) and the raw value (bytes after the colon,
/// folding CRLFs included, without the final CRLF).
/// </summary>
public static class DkimHeaderCanonicalizer
{
    private const int StackLimit = 1024;

    /// <summary>Upper bound of the canonical length (canonical output is never longer than the simple form).</summary>
    public static int MaxLength(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => name.Length + value.Length + 3;

    /// <summary>Writes the canonical field into <paramref name="destination"/> (at least <see cref="MaxLength"/>
    /// bytes) and returns the number of bytes written. <paramref name="appendCrlf"/> is false only for the
    /// DKIM-Signature field being signed or verified (RFC 6376 3.7).</summary>
    public static int Canonicalize(DkimCanonicalization canonicalization, ReadOnlySpan<byte> name,
        ReadOnlySpan<byte> value, bool appendCrlf, Span<byte> destination)
    {
        int n;
        if (canonicalization == DkimCanonicalization.Simple)
        {
            name.CopyTo(destination);
            n = name.Length;
            destination[n++] = (byte)':';
            value.CopyTo(destination[n..]);
            n += value.Length;
        }
        else
        {
            n = RelaxedName(name, destination);
            destination[n++] = (byte)':';
            n += RelaxedValue(value, destination[n..]);
        }
        if (appendCrlf)
        {
            destination[n++] = (byte)'\r';
            destination[n++] = (byte)'\n';
        }
        return n;
    }

    /// <summary>Canonicalizes the field and appends it to <paramref name="hash"/>.</summary>
    public static void AppendTo(IncrementalHash hash, DkimCanonicalization canonicalization, ReadOnlySpan<byte> name,
        ReadOnlySpan<byte> value, bool appendCrlf)
    {
        int max = MaxLength(name, value);
        byte[]? rented = null;
        Span<byte> buffer = max <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            int n = Canonicalize(canonicalization, name, value, appendCrlf, buffer);
            hash.AppendData(buffer[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Lower-cased name without the WSP before the colon.</summary>
    private static int RelaxedName(ReadOnlySpan<byte> name, Span<byte> destination)
    {
        int end = name.Length;
        while (end > 0 && IsWsp(name[end - 1]))
        {
            end--;
        }
        for (int i = 0; i < end; i++)
        {
            byte b = name[i];
            destination[i] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
        }
        return end;
    }

    /// <summary>Unfolds (drops CR LF), turns WSP runs into one SP, drops WSP at both ends.</summary>
    private static int RelaxedValue(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        int n = 0;
        bool pendingSpace = false;
        for (int i = 0; i < value.Length; i++)
        {
            byte b = value[i];
            if (b == (byte)'\n' || (b == (byte)'\r' && i + 1 < value.Length && value[i + 1] == (byte)'\n'))
            {
                continue;
            }
            if (IsWsp(b))
            {
                pendingSpace = true;
                continue;
            }
            if (pendingSpace && n > 0)
            {
                destination[n++] = (byte)' ';
            }
            pendingSpace = false;
            destination[n++] = b;
        }
        return n;
    }

    private static bool IsWsp(byte b) => b == (byte)' ' || b == (byte)'\t';
}
