using System.Text;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// dkim-quoted-printable (RFC 6376 2.11), the encoding of the i= and z= tag values:
/// <c>*(FWS / hex-octet / dkim-safe-char)</c>, hex-octet being "=" and two hex digits (RFC 2045) and
/// dkim-safe-char any of %x21-3A / %x3C / %x3E-7E (printable ASCII but ";" and "="). FWS is ignored.
/// </summary>
public static class DkimQuotedPrintable
{
    /// <summary>Decodes <paramref name="value"/> (a tag value as read: one char per octet). False when an "=" is
    /// not followed by two hex digits, when a control character other than FWS appears, or when the octets are not
    /// UTF-8. Lower-case hex digits are accepted (RFC 2045 6.7 note 2 lets a decoder do so), and so are octets
    /// above 0x7E left unencoded, as internationalized identities may carry them (RFC 8616).</summary>
    public static bool TryDecode(string value, out string decoded)
    {
        decoded = "";
        var octets = new List<byte>(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c is ' ' or '\t' or '\r' or '\n')
            {
                continue;
            }
            if (c == '=')
            {
                if (i + 2 >= value.Length || !char.IsAsciiHexDigit(value[i + 1]) || !char.IsAsciiHexDigit(value[i + 2]))
                {
                    return false;
                }
                octets.Add((byte)Convert.ToInt32(value.Substring(i + 1, 2), 16));
                i += 2;
                continue;
            }
            if (c < '!' || c == ';' || c == '\x7f' || c > '\xff')
            {
                return false;
            }
            octets.Add((byte)c);
        }
        return TryUtf8(Encoding.Latin1.GetString(octets.ToArray()), out decoded);
    }

    /// <summary>Encodes <paramref name="value"/>: every character outside dkim-safe-char as "=XX" of its UTF-8
    /// octets (upper-case hex).</summary>
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(value))
        {
            if (b is >= 0x21 and <= 0x7e && b != (byte)';' && b != (byte)'=')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('=').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return sb.ToString();
    }

    /// <summary>The octets (one char each) as UTF-8; plain ASCII is returned as it is.</summary>
    private static bool TryUtf8(string octets, out string text)
    {
        text = octets;
        foreach (char c in octets)
        {
            if (c > '\x7f')
            {
                try
                {
                    text = StrictUtf8.GetString(Encoding.Latin1.GetBytes(octets));
                    return true;
                }
                catch (DecoderFallbackException)
                {
                    text = "";
                    return false;
                }
            }
        }
        return true;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
