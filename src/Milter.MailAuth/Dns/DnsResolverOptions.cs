using System.Globalization;
using System.Net;
using Milter.Shared;

namespace Milter.MailAuth.Dns;

/// <summary>
/// Settings for <see cref="DnsClientResolver"/> and <see cref="CachingDnsResolver"/>.
/// The daemon maps <c>Dns:Servers</c> and <c>Dns:TimeoutMs</c> onto <see cref="Servers"/> and <see cref="Timeout"/>.
/// </summary>
public sealed record DnsResolverOptions
{
    /// <summary>Name servers as "HOST[:PORT]": an IPv4 address ("192.0.2.53", "192.0.2.53:5353") or an IPv6
    /// address ("2001:db8::53", "[2001:db8::53]:5353"). Empty = the system's resolvers (/etc/resolv.conf).</summary>
    public IReadOnlyList<string> Servers { get; init; } = Array.Empty<string>();

    /// <summary>Time allowed for one attempt of one query at one server.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra attempts per server after a timeout.</summary>
    public int Retries { get; init; } = 1;

    /// <summary>Most answers the cache keeps (least recently used evicted first); 0 turns the cache off.</summary>
    public int CacheEntries { get; init; } = 10_000;

    /// <summary>Shortest time a positive answer is kept, whatever its TTL.</summary>
    public TimeSpan MinimumCacheTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest time any answer is kept, whatever its TTL.</summary>
    public TimeSpan MaximumCacheTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Time NXDOMAIN and NODATA answers are kept (capped by <see cref="MaximumCacheTtl"/>).</summary>
    public TimeSpan NegativeCacheTtl { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Most records kept from one answer; the rest are dropped (a DNS answer can carry hundreds).</summary>
    public int MaxRecordsPerAnswer { get; init; } = 50;

    public const int MaxServers = 16;

    /// <summary>Every problem with these options, as sentences naming the setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Servers is null)
        {
            errors.Add("Dns:Servers must be a list (it may be empty to use the system resolvers).");
        }
        else
        {
            if (Servers.Count > MaxServers)
                errors.Add($"Dns:Servers has {Servers.Count} entries; at most {MaxServers} are allowed.");
            foreach (var server in Servers)
            {
                if (!TryParseServer(server, out _, out var error))
                    errors.Add($"Dns:Servers entry \"{server}\" is invalid: {error}");
            }
        }
        if (Timeout < TimeSpan.FromMilliseconds(10) || Timeout > TimeSpan.FromSeconds(60))
            errors.Add($"Dns:TimeoutMs is {Timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}; it must be between 10 and 60000.");
        if (Retries is < 0 or > 5)
            errors.Add($"Dns:Retries is {Retries}; it must be between 0 and 5.");
        if (CacheEntries is < 0 or > 10_000_000)
            errors.Add($"Dns:CacheEntries is {CacheEntries}; it must be between 0 (no cache) and 10000000.");
        if (MinimumCacheTtl < TimeSpan.Zero)
            errors.Add("Dns:MinimumCacheTtl must not be negative.");
        if (MaximumCacheTtl < MinimumCacheTtl)
            errors.Add("Dns:MaximumCacheTtl must not be shorter than Dns:MinimumCacheTtl.");
        if (NegativeCacheTtl < TimeSpan.Zero)
            errors.Add("Dns:NegativeCacheTtl must not be negative.");
        if (MaxRecordsPerAnswer is < 1 or > 1000)
            errors.Add($"Dns:MaxRecordsPerAnswer is {MaxRecordsPerAnswer}; it must be between 1 and 1000.");
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem when <see cref="Validate"/> finds any.</summary>
    public void ThrowIfInvalid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid DNS settings: " + string.Join(" ", errors));
    }

    /// <summary>Parses "HOST[:PORT]" where HOST is an IP address (IPv6 in brackets when a port is given).</summary>
    public static bool TryParseServer(string? text, out IPEndPoint? endPoint, out string? error)
    {
        endPoint = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "it is empty.";
            return false;
        }
        text = text.Trim();
        string host = text;
        string? portText = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = "a '[' without a closing ']'.";
                return false;
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    error = "expected ':PORT' after ']'.";
                    return false;
                }
                portText = rest[1..];
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            portText = text[(colon + 1)..];
        }
        if (!IpAddressText.TryParse(host, out var address))
        {
            error = $"\"{host}\" is not an IP address (host names are not accepted: the resolver cannot resolve itself).";
            return false;
        }
        int port = 53;
        if (portText is not null &&
            (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"port \"{portText}\" is not a number between 1 and 65535.";
            return false;
        }
        endPoint = new IPEndPoint(address, port);
        return true;
    }
}
