namespace Milter.Configuration.OpenDkim;

/// <summary>Where a line came from, for the one-line errors and warnings: <c>FILE line N</c>.</summary>
public sealed record OpenDkimSource(string File, int Line)
{
    public override string ToString() => $"{File} line {Line}";
}

/// <summary>One opendkim.conf line: an option name and its value.</summary>
public sealed record OpenDkimSetting(string Name, string Value, OpenDkimSource Source);

/// <summary>An OpenDKIM file or line that cannot be used: start-up error (exit 2), one line naming file and line.</summary>
public static class OpenDkimError
{
    public static ConfigException At(OpenDkimSource source, string problem) => new($"opendkim: {source}: {problem}");

    public static ConfigException In(string file, string problem) => new($"opendkim: {file}: {problem}");
}
