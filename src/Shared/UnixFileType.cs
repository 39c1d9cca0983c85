using System.Runtime.InteropServices;

namespace Milter.Shared;

/// <summary>The file type bits (S_IFMT of st_mode) of a path, read with stat(2) or lstat(2) from libc. Compiled into
/// each assembly that needs it (internal in each), like <see cref="IpAddressText"/>.</summary>
internal static class UnixFileType
{
    public const uint Mask = 0xF000, Fifo = 0x1000, CharDevice = 0x2000, Directory = 0x4000, BlockDevice = 0x6000,
        Regular = 0x8000, SymbolicLink = 0xA000, Socket = 0xC000;

    /// <summary>The type of <paramref name="path"/> (of the link itself when <paramref name="followLinks"/> is
    /// false); null when it cannot be told (not Linux on x64/arm64, no such file, libc not found).</summary>
    public static uint? Of(string path, bool followLinks)
    {
        // glibc/musl struct stat: st_mode follows st_dev, st_ino (and st_nlink on x86-64).
        var offset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (offset < 0 || !OperatingSystem.IsLinux()) return null;
        var buffer = new byte[256];
        try
        {
            if ((followLinks ? stat(path, buffer) : lstat(path, buffer)) != 0) return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return BitConverter.ToUInt32(buffer, offset) & Mask;
    }

    /// <summary>"a FIFO", "a character device"... for messages.</summary>
    public static string Describe(uint type) => type switch
    {
        Fifo => "a FIFO",
        CharDevice => "a character device",
        Directory => "a directory",
        BlockDevice => "a block device",
        Regular => "a regular file",
        SymbolicLink => "a symbolic link",
        Socket => "a socket",
        _ => "an unknown kind of file",
    };

    [DllImport("libc", SetLastError = true)]
    private static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);

    [DllImport("libc", SetLastError = true)]
    private static extern int lstat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);
}
