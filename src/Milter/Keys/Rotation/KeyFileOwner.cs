using System.Runtime.InteropServices;
using Milter.Shared;

namespace Milter.Keys.Rotation;

/// <summary>The owner and group of a file (<see cref="UnixStat"/>) and chown(2), from libc. `keys rotate` run as root gives the new key the
/// owner and group of the current one: the Debian package's keys belong to the user `milter`, which the daemon runs as, and
/// a root-owned 0600 key would be one the daemon cannot read.</summary>
internal static class KeyFileOwner
{
    /// <summary>(uid, gid) of <paramref name="path"/>; null when it cannot be told (not Linux on x64/arm64, no such file).</summary>
    public static (uint Uid, uint Gid)? Of(string path)
        => UnixStat.Of(path, followLinks: true) is { } stat ? (stat.Uid, stat.Gid) : null;

    /// <summary>As root, gives <paramref name="path"/> the owner and group of <paramref name="like"/>; returns a line saying
    /// so, or null when nothing was done (not root, or the same owner already).</summary>
    public static string? CopyOwner(string like, string path)
    {
        if (!Environment.IsPrivilegedProcess || Of(like) is not { } owner || Of(path) is not { } mine || owner == mine) return null;
        if (chown(path, owner.Uid, owner.Gid) != 0)
            return $"warning: could not give {path} the owner of {like} (uid {owner.Uid}, gid {owner.Gid}): errno {Marshal.GetLastPInvokeError()}; the daemon's user must be able to read it";
        return $"gave {path} the owner of {like} (uid {owner.Uid}, gid {owner.Gid}), which the daemon reads keys as";
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int chown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);
}
