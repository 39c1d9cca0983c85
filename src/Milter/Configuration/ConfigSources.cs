using Milter.Configuration.OpenDkim;

namespace Milter.Configuration;

/// <summary>The configuration of `run`, reloads and `check-config`: a milter JSON config (<see cref="ConfigLoader"/>) or an
/// unchanged opendkim.conf (<see cref="OpenDkimTranslator"/>), with the warnings the OpenDKIM translation gave.</summary>
public static class ConfigSources
{
    public static (MilterOptions Options, IReadOnlyList<string> Warnings) Load(string? configFile, string? openDkimConfig,
        IReadOnlyList<string>? listen = null, string? dnsServers = null)
    {
        if (configFile is not null && openDkimConfig is not null)
            throw new ConfigException("config: give --config or --opendkim-config, not both");
        if (openDkimConfig is null) return (ConfigLoader.Load(configFile, listen, dnsServers), []);
        var translation = OpenDkimTranslator.Load(openDkimConfig, listen, dnsServers);
        return (translation.Options, translation.Warnings);
    }
}
