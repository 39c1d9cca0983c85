namespace Milter.Shared;

/// <summary>The file type bits (S_IFMT of st_mode) of a path, read with <see cref="UnixStat"/>. Compiled into
/// each assembly that needs it (internal in each), like <see cref="IpAddressText"/>.</summary>
internal static class UnixFileType
{
    public const uint Mask = 0xF000, Fifo = 0x1000, CharDevice = 0x2000, Directory = 0x4000, BlockDevice = 0x6000,
        Regular = 0x8000, SymbolicLink = 0xA000, Socket = 0xC000;

    /// <summary>The type of <paramref name="path"/> (of the link itself when <paramref name="followLinks"/> is
    /// false); null when it cannot be told (not Linux on x64/arm64, no such file, libc not found).</summary>
    public static uint? Of(string path, bool followLinks) => UnixStat.Of(path, followLinks)?.Mode & Mask;

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
}
