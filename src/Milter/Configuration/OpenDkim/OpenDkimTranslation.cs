namespace Milter.Configuration.OpenDkim;

/// <summary>What an OpenDKIM configuration became: the Milter options, the lines that were translated (for
/// `milter migrate`'s report) and one warning per option that has no equivalent (logged at start, never silent).</summary>
public sealed class OpenDkimTranslation
{
    public OpenDkimTranslation(string configFile) => ConfigFile = configFile;

    public string ConfigFile { get; }
    public MilterOptions Options { get; } = new();
    public List<string> Translated { get; } = [];
    public List<string> Warnings { get; } = [];

    internal void Note(OpenDkimSetting s, string what) => Translated.Add($"{s.Name} ({s.Source}): {what}");

    internal void Warn(OpenDkimSetting s, string why) => Warnings.Add($"opendkim: {s.Source}: {s.Name} is not supported: {why}");
}
