using System.Runtime.InteropServices;

namespace Milter.Shared;

/// <summary>The mode, owner and group of a path, read with stat(2) or lstat(2) from libc: the fields .NET has no API for
/// (owner, group, the file type without following links). Compiled into each assembly that needs it (internal in each),
/// like <see cref="IpAddressText"/>.</summary>
internal readonly record struct UnixStat(uint Mode, uint Uid, uint Gid)
{
    /// <summary>The stat of <paramref name="path"/> (of the link itself when <paramref name="followLinks"/> is false);
    /// null when it cannot be told (not Linux on x64/arm64, no such file, libc not found).</summary>
    public static UnixStat? Of(string path, bool followLinks)
    {
        // glibc/musl struct stat: x86-64 has st_dev, st_ino, st_nlink (8 bytes each), then st_mode, st_uid, st_gid
        // (4 each); arm64 has st_dev, st_ino (8 each), then st_mode, st_nlink, st_uid, st_gid (4 each).
        var (mode, uid) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (24, 28),
            Architecture.Arm64 => (16, 24),
            _ => (-1, -1),
        };
        if (mode < 0 || !OperatingSystem.IsLinux()) return null;
        var buffer = new byte[256];
        try
        {
            if ((followLinks ? stat(path, buffer) : lstat(path, buffer)) != 0) return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return new UnixStat(BitConverter.ToUInt32(buffer, mode), BitConverter.ToUInt32(buffer, uid), BitConverter.ToUInt32(buffer, uid + 4));
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);

    [DllImport("libc", SetLastError = true)]
    private static extern int lstat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);
}
