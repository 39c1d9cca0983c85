using Milter.Shared;

namespace Milter.Protocol.Server;

/// <summary>Whether a path is a unix socket (lstat st_mode), so only a stale socket is ever replaced.</summary>
internal static class UnixSocketFile
{
    /// <summary>True when the path is a socket; false when it is something else; null when it cannot be told.</summary>
    public static bool? IsSocket(string path) =>
        UnixFileType.Of(path, followLinks: false) is { } type ? type == UnixFileType.Socket : null;
}
