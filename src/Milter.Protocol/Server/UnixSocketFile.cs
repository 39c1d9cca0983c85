using System.Runtime.InteropServices;

namespace Milter.Protocol.Server;

/// <summary>Whether a path is a unix socket (lstat st_mode), so only a stale socket is ever replaced.</summary>
internal static partial class UnixSocketFile
{
    private const uint S_IFMT = 0xF000;
    private const uint S_IFSOCK = 0xC000;

    /// <summary>True when the path is a socket; false when it is something else; null when it cannot be told.</summary>
    public static bool? IsSocket(string path)
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
            if (lstat(path, buffer) != 0) return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        var mode = BitConverter.ToUInt32(buffer, offset);
        return (mode & S_IFMT) == S_IFSOCK;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int lstat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);
}
