namespace Milter.MailAuth.Dkim;

/// <summary>One tag=value pair of a tag list, with the position of the value in the parsed text.</summary>
/// <param name="Name">tag name (case-sensitive)</param>
/// <param name="Value">value without surrounding whitespace; whitespace inside is kept (RFC 6376 3.2)</param>
/// <param name="ValueStart">index of the first character after '=' in the parsed text</param>
/// <param name="ValueEnd">index of the ';' ending the tag (or the text length)</param>
public readonly record struct DkimTag(string Name, string Value, int ValueStart, int ValueEnd);

/// <summary>
/// A parsed tag=value list (RFC 6376 3.2), used by DKIM-Signature fields and key records. Strict about syntax
/// (tag names, value characters, duplicates), lenient about whitespace (FWS around names and values).
/// </summary>
public sealed class DkimTagList
{
    /// <summary>Upper bound on tags in one list (a signature has about 15 possible tags).</summary>
    public const int MaxTags = 64;

    private readonly DkimTag[] _tags;

    private DkimTagList(DkimTag[] tags) => _tags = tags;

    /// <summary>Tags in the order they appear.</summary>
    public IReadOnlyList<DkimTag> Tags => _tags;

    public int Count => _tags.Length;

    public bool TryGetValue(string name, out string value)
    {
        foreach (DkimTag tag in _tags)
        {
            if (tag.Name == name)
            {
                value = tag.Value;
                return true;
            }
        }
        value = "";
        return false;
    }

    /// <summary>The value of a tag, or null when absent.</summary>
    public string? this[string name] => TryGetValue(name, out string value) ? value : null;

    public bool TryGetTag(string name, out DkimTag tag)
    {
        foreach (DkimTag t in _tags)
        {
            if (t.Name == name)
            {
                tag = t;
                return true;
            }
        }
        tag = default;
        return false;
    }

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string text, out DkimTagList? list, out string? error)
    {
        list = null;
        // Sized once (a tag per ';' at most): growing from 4 cost three arrays per DKIM-Signature (issue 16).
        var tags = new List<DkimTag>(Math.Min(MaxTags + 1, text.AsSpan().Count(';') + 1));
        int pos = 0;
        while (true)
        {
            pos = SkipFws(text, pos);
            if (pos == text.Length)
            {
                if (tags.Count == 0)
                {
                    error = "empty tag list";
                    return false;
                }
                break; // end, possibly after a trailing ';'
            }
            // tag-name = ALPHA *ALNUMPUNC
            int nameStart = pos;
            if (!char.IsAsciiLetter(text[pos]))
            {
                error = $"invalid tag name at position {pos}";
                return false;
            }
            while (pos < text.Length && (char.IsAsciiLetterOrDigit(text[pos]) || text[pos] == '_'))
            {
                pos++;
            }
            string name = KnownName(text.AsSpan(nameStart, pos - nameStart)) ?? text[nameStart..pos];
            pos = SkipFws(text, pos);
            if (pos == text.Length || text[pos] != '=')
            {
                error = $"missing '=' after tag \"{Truncate(name)}\"";
                return false;
            }
            pos++;
            int valueStart = pos;
            int end = text.IndexOf(';', pos);
            if (end < 0)
            {
                end = text.Length;
            }
            if (!TryReadValue(text, valueStart, end, out string value))
            {
                error = $"invalid character in value of tag \"{Truncate(name)}\"";
                return false;
            }
            foreach (DkimTag t in tags)
            {
                if (t.Name == name)
                {
                    error = $"duplicate tag \"{Truncate(name)}\"";
                    return false;
                }
            }
            if (tags.Count == MaxTags)
            {
                error = $"more than {MaxTags} tags";
                return false;
            }
            tags.Add(new DkimTag(name, value, valueStart, end));
            if (end == text.Length)
            {
                break;
            }
            pos = end + 1;
        }
        list = new DkimTagList(tags.ToArray());
        error = null;
        return true;
    }

    /// <summary>The tag names of DKIM-Signature, ARC and key records as constants, so parsing one makes no string for them.</summary>
    private static string? KnownName(ReadOnlySpan<char> name) => name switch
    {
        "v" => "v", "a" => "a", "b" => "b", "bh" => "bh", "c" => "c", "d" => "d", "h" => "h", "i" => "i", "l" => "l",
        "q" => "q", "s" => "s", "t" => "t", "x" => "x", "z" => "z", "k" => "k", "p" => "p", "n" => "n", "g" => "g",
        "cv" => "cv",
        _ => null,
    };

    /// <summary>tag-value = [ tval *( 1*(WSP / FWS) tval ) ]; tval = 1*VALCHAR (%x21-3A / %x3C-7E). Octets
    /// above 0x7E are accepted for internationalized values (RFC 8616).</summary>
    private static bool TryReadValue(string text, int start, int end, out string value)
    {
        int first = start;
        while (first < end && IsFws(text[first]))
        {
            first++;
        }
        int last = end;
        while (last > first && IsFws(text[last - 1]))
        {
            last--;
        }
        for (int i = first; i < last; i++)
        {
            char ch = text[i];
            if (!IsFws(ch) && (ch < '!' || ch == '\x7f'))
            {
                value = "";
                return false;
            }
        }
        value = text[first..last];
        return true;
    }

    private static int SkipFws(string text, int pos)
    {
        while (pos < text.Length && IsFws(text[pos]))
        {
            pos++;
        }
        return pos;
    }

    private static bool IsFws(char c) => c is ' ' or '\t' or '\r' or '\n';

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "...";
}
