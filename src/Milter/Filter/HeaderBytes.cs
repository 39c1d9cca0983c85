namespace Milter.Filter;

/// <summary>Line-ending conversions between the milter protocol and the message on the wire.</summary>
internal static class HeaderBytes
{
    /// <summary>MTAs pass folded header values with bare LF (libmilter convention); on the wire they are CRLF.
    /// Returns the value with every bare LF turned into CRLF (the same array when there is none).</summary>
    public static byte[] ToWireFolding(byte[] value)
    {
        var bare = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == (byte)'\n' && (i == 0 || value[i - 1] != (byte)'\r')) bare++;
        }
        if (bare == 0) return value;
        var result = new byte[value.Length + bare];
        var j = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == (byte)'\n' && (i == 0 || value[i - 1] != (byte)'\r')) result[j++] = (byte)'\r';
            result[j++] = value[i];
        }
        return result;
    }

    /// <summary>Header values we add: libmilter's smfi_insheader wants folds as LF + whitespace, not CRLF
    /// (the MTA adds the CR). With HDR_LEADSPC negotiated the MTA adds no space after the colon, so we do.</summary>
    public static string ToMilterValue(string value, bool leadingSpaceNegotiated)
    {
        var v = value.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (!leadingSpaceNegotiated) return v.TrimStart(' ');
        return v.Length > 0 && (v[0] == ' ' || v[0] == '\t') ? v : " " + v;
    }
}
