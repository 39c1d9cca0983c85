namespace Milter.Configuration.OpenDkim;

/// <summary>One element of a data set: its key, its value (null when the line has none) and where it came from.</summary>
public sealed record OpenDkimEntry(string Key, string? Value, OpenDkimSource Source);

/// <summary>
/// OpenDKIM's data sets (opendkim(8) "DATA SETS") of the kinds a flat configuration uses: <c>file:PATH</c> and a bare
/// absolute path (one element per line, key then whitespace then value, '#' comments), <c>refile:PATH</c> (the same
/// lines, keys being wildcard patterns), <c>csl:a,b</c> and a bare comma-separated list (elements, or <c>key=value</c>).
/// The database kinds (db:, dsn:, ldap:, lua:, memcache:, erlang:, mdb:, *.db) are a start-up error naming the line.
/// </summary>
public sealed class OpenDkimDataset
{
    private static readonly string[] DatabaseKinds = ["db:", "dsn:", "ldap:", "ldaps:", "ldapi:", "lua:", "memcache:", "erlang:", "mdb:"];

    private OpenDkimDataset(bool isRefile, string? file, IReadOnlyList<OpenDkimEntry> entries)
    {
        IsRefile = isRefile;
        File = file;
        Entries = entries;
    }

    public bool IsRefile { get; }
    /// <summary>The file the elements came from, or null for a list on the configuration line.</summary>
    public string? File { get; }
    public IReadOnlyList<OpenDkimEntry> Entries { get; }

    public static OpenDkimDataset Read(OpenDkimSetting setting, string? baseDirectory)
    {
        var spec = setting.Value.Trim();
        var lower = spec.ToLowerInvariant();
        if (DatabaseKinds.FirstOrDefault(k => lower.StartsWith(k, StringComparison.Ordinal)) is { } kind
            || (lower.EndsWith(".db", StringComparison.Ordinal) && !lower.StartsWith("file:", StringComparison.Ordinal)
                && !lower.StartsWith("refile:", StringComparison.Ordinal) && (kind = "*.db") is not null))
        {
            throw OpenDkimError.At(setting.Source,
                $"{setting.Name} uses the data set kind {kind}, which milter does not read; give a flat file (file:, refile: or a path) or a csl: list");
        }
        if (lower.StartsWith("refile:", StringComparison.Ordinal)) return FromFile(Resolve(spec[7..], baseDirectory), isRefile: true);
        if (lower.StartsWith("file:", StringComparison.Ordinal)) return FromFile(Resolve(spec[5..], baseDirectory), isRefile: false);
        if (spec.StartsWith('/')) return FromFile(spec, isRefile: false);
        if (lower.StartsWith("csl:", StringComparison.Ordinal)) spec = spec[4..];
        var entries = new List<OpenDkimEntry>();
        foreach (var item in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            entries.Add(eq < 0 ? new(item, null, setting.Source) : new(item[..eq].Trim(), item[(eq + 1)..].Trim(), setting.Source));
        }
        return new OpenDkimDataset(false, null, entries);
    }

    /// <summary>A relative path is taken from BaseDirectory when it is set (OpenDKIM changes to it), else the current directory.</summary>
    public static string Resolve(string path, string? baseDirectory)
        => Path.IsPathRooted(path) || baseDirectory is null ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(baseDirectory, path));

    private static OpenDkimDataset FromFile(string path, bool isRefile)
    {
        if (!System.IO.File.Exists(path))
            throw OpenDkimError.In(path, "does not exist");
        var entries = new List<OpenDkimEntry>();
        foreach (var (text, number) in OpenDkimConfFile.ReadLines(path))
        {
            var split = text.IndexOfAny([' ', '\t']);
            entries.Add(split < 0
                ? new(text, null, new(path, number))
                : new(text[..split], text[split..].Trim(), new(path, number)));
        }
        return new OpenDkimDataset(isRefile, path, entries);
    }
}
