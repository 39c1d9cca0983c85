using System.Text;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Writes the DKIM-Signature value: tags in the order v a c d s t x i h bh b, folded before 78 columns with
/// CRLF SP continuation lines (FWS is allowed between tags, around ':' in h= and inside b=, RFC 6376 3.5).
/// </summary>
internal static class DkimSignatureFormatter
{
    private const int Width = 78;
    private const int FirstColumn = 16; // "DKIM-Signature: "

    /// <summary>The value up to and including "b=" (the form that is hashed, RFC 6376 3.7).</summary>
    public static string FormatWithoutSignature(DkimSignatureFields f, out int column)
    {
        var sb = new StringBuilder(512);
        column = FirstColumn;
        Add(sb, ref column, "v=1;", "", "");
        Add(sb, ref column, "a=", f.Algorithm, ";");
        Add(sb, ref column, "c=", DkimCanonicalizationNames.ToPairValue(f.HeaderCanonicalization, f.BodyCanonicalization), ";");
        Add(sb, ref column, "d=", f.Domain, ";");
        Add(sb, ref column, "s=", f.Selector, ";");
        if (f.Timestamp is long t)
        {
            Add(sb, ref column, "t=", t.ToString(System.Globalization.CultureInfo.InvariantCulture), ";");
        }
        if (f.Expiration is long x)
        {
            Add(sb, ref column, "x=", x.ToString(System.Globalization.CultureInfo.InvariantCulture), ";");
        }
        if (f.Identity is not null)
        {
            Add(sb, ref column, "i=", DkimQuotedPrintable.Encode(f.Identity), ";"); // RFC 6376 3.5: dkim-quoted-printable
        }
        for (int i = 0; i < f.SignedHeaderNames.Count; i++)
        {
            string end = i == f.SignedHeaderNames.Count - 1 ? ";" : ":";
            if (i == 0)
            {
                Add(sb, ref column, "h=", f.SignedHeaderNames[i], end);
            }
            else
            {
                Append(sb, ref column, "", f.SignedHeaderNames[i], end, separator: "");
            }
        }
        Add(sb, ref column, "bh=", f.BodyHash, ";");
        Add(sb, ref column, "b=", "", "");
        return sb.ToString();
    }

    /// <summary>Appends the base64 signature, folding it to the width.</summary>
    public static string AppendSignature(string prefix, int column, string signature)
    {
        var sb = new StringBuilder(prefix, prefix.Length + signature.Length + 16);
        int pos = 0;
        while (pos < signature.Length)
        {
            int room = Width - column;
            if (room <= 0)
            {
                sb.Append("\r\n ");
                column = 1;
                continue;
            }
            int n = Math.Min(room, signature.Length - pos);
            sb.Append(signature, pos, n);
            column += n;
            pos += n;
        }
        return sb.ToString();
    }

    /// <summary>One tag written as <paramref name="start"/>, <paramref name="value"/> and <paramref name="end"/> (in three
    /// appends: the concatenations made a string per tag of every signature, issue 16).</summary>
    private static void Add(StringBuilder sb, ref int column, string start, string value, string end) =>
        Append(sb, ref column, start, value, end, sb.Length == 0 ? "" : " ");

    private static void Append(StringBuilder sb, ref int column, string start, string value, string end, string separator)
    {
        int length = start.Length + value.Length + end.Length;
        if (sb.Length > 0 && column + separator.Length + length > Width)
        {
            sb.Append("\r\n ");
            column = 1;
        }
        else
        {
            sb.Append(separator);
            column += separator.Length;
        }
        sb.Append(start).Append(value).Append(end);
        column += length;
    }
}
