using Milter.Configuration;
using Milter.MailAuth.Dns;

namespace Milter.Commands;

/// <summary>The resolver for commands that query DNS: the global --dns servers, else config Dns:Servers
/// (the --config file or the embedded default, plus MILTER_ environment), else the system resolver.</summary>
internal static class CliDns
{
    public static DnsClientResolver CreateResolver(string? dnsOption, string? configFile) =>
        CreateResolver(ConfigLoader.Load(configFile, listen: null, dnsServers: dnsOption));

    /// <summary>The resolver for options a command has loaded already (with its --dns as dnsServers).</summary>
    public static DnsClientResolver CreateResolver(MilterOptions options)
    {
        return new DnsClientResolver(options.ToDnsResolverOptions() with { CacheEntries = 0 });
    }
}
