using System.Text;

namespace Milter.MailAuth.Dns;

/// <summary>
/// Punycode (RFC 3492) for IDNA labels, our own so that no library decides what an A-label is (the runtime's
/// IdnMapping in invariant-globalization mode accepts labels such as "xn--zz" on the way out and refuses them on
/// the way back). Works on whole Unicode code points; the ACE prefix "xn--" is not part of the input or output.
/// </summary>
internal static class Punycode
{
    private const int Base = 36, TMin = 1, TMax = 26, Skew = 38, Damp = 700, InitialBias = 72, InitialN = 128;
    private const int MaxCodePoints = 63; // a label holds at most 63 octets, so never more code points

    /// <summary>RFC 3492 6.2. False for any malformed input: a non-basic code point before the delimiter, a bad
    /// digit, an overflow, a decoded basic code point, a surrogate or a value above U+10FFFF.</summary>
    public static bool TryDecode(ReadOnlySpan<char> input, out string output)
    {
        output = "";
        var code = new List<int>(input.Length);
        int delimiter = input.LastIndexOf('-');
        int start = 0;
        if (delimiter > 0)
        {
            foreach (var c in input[..delimiter])
            {
                if (c >= 0x80) return false;
                code.Add(c);
            }
            start = delimiter + 1;
        }
        int n = InitialN, i = 0, bias = InitialBias;
        int pos = start;
        while (pos < input.Length)
        {
            int oldI = i, w = 1;
            for (int k = Base; ; k += Base)
            {
                if (pos >= input.Length) return false;
                int digit = DigitValue(input[pos++]);
                if (digit < 0 || digit > (int.MaxValue - i) / w) return false;
                i += digit * w;
                int t = Threshold(k, bias);
                if (digit < t) break;
                if (w > int.MaxValue / (Base - t)) return false;
                w *= Base - t;
            }
            int count = code.Count + 1;
            bias = Adapt(i - oldI, count, oldI == 0);
            if (i / count > int.MaxValue - n) return false;
            n += i / count;
            i %= count;
            // 6.2: a basic code point may not be encoded; nor can a surrogate or a value beyond Unicode be a character.
            if (n < 0x80 || n > 0x10FFFF || n is >= 0xD800 and <= 0xDFFF || code.Count >= MaxCodePoints) return false;
            code.Insert(i++, n);
        }
        var sb = new StringBuilder(code.Count + 4);
        foreach (var cp in code) sb.Append(char.ConvertFromUtf32(cp));
        output = sb.ToString();
        return true;
    }

    /// <summary>RFC 3492 6.3 with lower-case digits; null when the input holds an unpaired surrogate or overflows.</summary>
    public static string? Encode(string input)
    {
        var code = new List<int>(input.Length);
        for (int j = 0; j < input.Length; j++)
        {
            if (char.IsHighSurrogate(input[j]) && j + 1 < input.Length && char.IsLowSurrogate(input[j + 1]))
            {
                code.Add(char.ConvertToUtf32(input[j], input[j + 1]));
                j++;
            }
            else if (char.IsSurrogate(input[j]))
            {
                return null;
            }
            else
            {
                code.Add(input[j]);
            }
        }
        var output = new StringBuilder();
        foreach (var cp in code)
            if (cp < 0x80) output.Append((char)cp);
        int basic = output.Length, handled = basic;
        if (basic > 0) output.Append('-');
        int n = InitialN, delta = 0, bias = InitialBias;
        while (handled < code.Count)
        {
            int m = int.MaxValue;
            foreach (var cp in code)
                if (cp >= n && cp < m) m = cp;
            if (m - n > (int.MaxValue - delta) / (handled + 1)) return null;
            delta += (m - n) * (handled + 1);
            n = m;
            foreach (var cp in code)
            {
                if (cp < n && ++delta == int.MaxValue) return null;
                if (cp != n) continue;
                int q = delta;
                for (int k = Base; ; k += Base)
                {
                    int t = Threshold(k, bias);
                    if (q < t) break;
                    output.Append(Digit(t + (q - t) % (Base - t)));
                    q = (q - t) / (Base - t);
                }
                output.Append(Digit(q));
                bias = Adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled++;
            }
            delta++;
            n++;
        }
        return output.ToString();
    }

    private static int Threshold(int k, int bias) => k <= bias ? TMin : k >= bias + TMax ? TMax : k - bias;

    /// <summary>RFC 3492 6.1.</summary>
    private static int Adapt(int delta, int numPoints, bool firstTime)
    {
        delta = firstTime ? delta / Damp : delta / 2;
        delta += delta / numPoints;
        int k = 0;
        while (delta > (Base - TMin) * TMax / 2)
        {
            delta /= Base - TMin;
            k += Base;
        }
        return k + (Base - TMin + 1) * delta / (delta + Skew);
    }

    /// <summary>a-z (either case) = 0..25, 0-9 = 26..35 (RFC 3492 5); -1 for anything else.</summary>
    private static int DigitValue(char c) => c switch
    {
        >= 'a' and <= 'z' => c - 'a',
        >= 'A' and <= 'Z' => c - 'A',
        >= '0' and <= '9' => c - '0' + 26,
        _ => -1,
    };

    private static char Digit(int d) => (char)(d < 26 ? 'a' + d : '0' + d - 26);
}
