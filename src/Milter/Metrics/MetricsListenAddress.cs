using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Milter.Metrics;

/// <summary>The value of Metrics:Listen: <c>http://HOST:PORT/PATH</c>, HOST an IP address (IPv6 in brackets) or
/// localhost, PORT 1-65535, PATH where the metrics are served (e.g. /metrics). Plain HTTP only; no user, query or fragment.</summary>
internal sealed record MetricsListenAddress(IPAddress Address, int Port, string Path, string Text)
{
    public const string Example = "http://127.0.0.1:9464/metrics";

    public override string ToString() => Text;

    public static bool TryParse(string? text, [NotNullWhen(true)] out MetricsListenAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        error = null;
        var value = text?.Trim() ?? "";
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
            error = $"expected an http:// URL such as {Example}";
        else if (uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            error = $"no user, query or fragment: only http://HOST:PORT/PATH, e.g. {Example}";
        else if (!HasExplicitPort(value, uri))
            error = $"the port is needed, e.g. {Example}";
        else if (uri.Port is < 1 or > 65535)
            error = "the port must be between 1 and 65535";
        else if (Host(uri) is not { } ip)
            error = $"the host must be an IP address or localhost (no name is looked up), e.g. {Example}";
        else
            address = new MetricsListenAddress(ip, uri.Port, uri.AbsolutePath, value);
        return address is not null;
    }

    private static bool HasExplicitPort(string text, Uri uri)
    {
        // Uri fills in 80; only a port written in the value counts.
        var authority = text[(uri.Scheme.Length + 3)..];
        var end = authority.IndexOf('/', StringComparison.Ordinal);
        if (end >= 0) authority = authority[..end];
        var colon = authority.LastIndexOf(':');
        return colon > authority.LastIndexOf(']') && int.TryParse(authority[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }

    private static IPAddress? Host(Uri uri)
    {
        if (uri.IsLoopback && string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;
        return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? ip : null;
    }
}
