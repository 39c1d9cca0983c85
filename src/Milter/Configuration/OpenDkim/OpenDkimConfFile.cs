namespace Milter.Configuration.OpenDkim;

/// <summary>
/// Reads opendkim.conf (opendkim.conf(5)): one "Name value" per line, '#' starts a comment, blank lines are ignored,
/// names are case-insensitive, <c>Include</c> reads another file (five levels at most). A name OpenDKIM does not know,
/// or a name without a value, is a start-up error naming the file and line; a later line of the same name replaces
/// an earlier one, as in OpenDKIM.
/// </summary>
public static class OpenDkimConfFile
{
    private const int MaxIncludeDepth = 5;

    public static IReadOnlyList<OpenDkimSetting> Read(string path)
    {
        var settings = new List<OpenDkimSetting>();
        Read(Path.GetFullPath(path), settings, 0);
        return settings;
    }

    private static void Read(string path, List<OpenDkimSetting> settings, int depth)
    {
        foreach (var (line, number) in ReadLines(path))
        {
            var source = new OpenDkimSource(path, number);
            var split = line.IndexOfAny([' ', '\t']);
            var name = split < 0 ? line : line[..split];
            var value = split < 0 ? "" : line[split..].Trim();
            var known = OpenDkimOptionNames.Find(name)
                ?? throw OpenDkimError.At(source, $"unknown option \"{name}\"{Meant(name)} (see man 5 opendkim.conf)");
            if (value.Length == 0)
                throw OpenDkimError.At(source, $"{known} needs a value");
            if (known == "Include")
            {
                if (depth + 1 > MaxIncludeDepth)
                    throw OpenDkimError.At(source, $"Include nested more than {MaxIncludeDepth} levels");
                Read(Path.GetFullPath(value), settings, depth + 1);
                continue;
            }
            settings.Add(new OpenDkimSetting(known, value, source));
        }
    }

    /// <summary>The non-blank lines of a file with their numbers, comments ('#' to the end of the line) removed.</summary>
    public static IEnumerable<(string Text, int Number)> ReadLines(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OpenDkimError.In(path, $"cannot be read: {e.Message}");
        }
        for (var i = 0; i < lines.Length; i++)
        {
            var text = lines[i];
            var hash = text.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0) text = text[..hash];
            text = text.Trim();
            if (text.Length > 0) yield return (text, i + 1);
        }
    }

    private static string Meant(string name)
    {
        var best = OpenDkimOptionNames.All.Select(n => (Name: n, Distance: ConfigKeyCheck.EditDistance(n.ToUpperInvariant(), name.ToUpperInvariant())))
            .OrderBy(x => x.Distance).First();
        return best.Distance <= Math.Max(1, Math.Min(3, name.Length / 4)) ? $"; did you mean {best.Name}?" : "";
    }
}
