using System.Globalization;
using Milter.Shared;

namespace Milter.Protocol.Server;

public enum ListenKind { Inet, Inet6, Unix }

/// <summary>
/// A listening (or, for the client, connecting) endpoint in the sendmail/OpenDKIM socket syntax:
/// <c>inet:PORT@HOST</c>, <c>inet:PORT</c> (all addresses), <c>inet6:PORT@HOST</c>, <c>inet6:PORT</c>,
/// <c>unix:/path</c> or <c>local:/path</c>. Port 0 picks a free port.
/// </summary>
public sealed record ListenSpec(ListenKind Kind, string? Host, int Port, string? Path)
{
    public static ListenSpec Parse(string spec)
        => TryParse(spec, out var result, out var error) ? result! : throw new FormatException(error);

    public static bool TryParse(string spec, out ListenSpec? result, out string? error)
    {
        result = null;
        error = null;
        if (string.IsNullOrWhiteSpace(spec))
        {
            error = "empty socket specification (expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path)";
            return false;
        }
        var colon = spec.IndexOf(':');
        if (colon <= 0)
        {
            error = $"'{spec}': missing the kind (expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path)";
            return false;
        }
        var kind = spec[..colon].ToLowerInvariant();
        var rest = spec[(colon + 1)..];
        switch (kind)
        {
            case "unix":
            case "local":
                if (rest.Length == 0 || rest.Contains('\0'))
                {
                    error = $"'{spec}': missing the socket path (expected unix:/path)";
                    return false;
                }
                result = new ListenSpec(ListenKind.Unix, null, 0, rest);
                return true;
            case "inet":
            case "inet6":
                return TryParseInet(spec, kind == "inet" ? ListenKind.Inet : ListenKind.Inet6, rest, out result, out error);
            default:
                error = $"'{spec}': unknown kind '{kind}' (expected inet, inet6, unix or local)";
                return false;
        }
    }

    private static bool TryParseInet(string spec, ListenKind kind, string rest, out ListenSpec? result, out string? error)
    {
        result = null;
        error = null;
        var at = rest.IndexOf('@');
        var portText = at < 0 ? rest : rest[..at];
        var host = at < 0 ? null : rest[(at + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            error = $"'{spec}': bad port '{portText}' (expected a number from 0 to 65535)";
            return false;
        }
        if (host is not null)
        {
            if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
            if (host.Length == 0)
            {
                error = $"'{spec}': empty host after '@'";
                return false;
            }
            if (!IsAddressOrHostName(host))
            {
                error = $"'{spec}': '{host}' is neither an IP address (dotted quad or RFC 4291 IPv6) nor a host name";
                return false;
            }
        }
        result = new ListenSpec(kind, host, port, null);
        return true;
    }

    /// <summary>A strict IP address, or a host name (letters, digits, '-', '_', labels of 1..63) whose last label is
    /// not all digits: "1.2.3", "0x7f.1" or "2130706433" are neither, so the resolver's inet_aton never reads them.</summary>
    private static bool IsAddressOrHostName(string host)
    {
        if (IpAddressText.TryParse(host, out _)) return true;
        var name = host.EndsWith('.') ? host[..^1] : host;
        if (name.Length is 0 or > 253) return false;
        var labels = name.Split('.');
        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63) return false;
            foreach (var c in label)
                if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_') return false;
        }
        return !labels[^1].All(char.IsAsciiDigit);
    }

    /// <summary>The spec form (local: is written as unix:).</summary>
    public override string ToString() => Kind switch
    {
        ListenKind.Unix => "unix:" + Path,
        ListenKind.Inet => Host is null ? $"inet:{Port}" : $"inet:{Port}@{Host}",
        _ => Host is null ? $"inet6:{Port}" : $"inet6:{Port}@{Host}",
    };
}
