using System.Text;
using Milter.Shared;

namespace Milter.Keys;

/// <summary>Checks a private key file before it is read: it exists, is a regular file (a FIFO would block start-up,
/// a device such as /dev/zero never ends), is never world-writable, and is not readable or writable by group or
/// others unless the operator allows it (container volumes often need that). Reading is bounded.</summary>
public static class KeyFileCheck
{
    /// <summary>Largest key file read (a 4096-bit RSA PEM is about 3.3 KB).</summary>
    public const int MaxBytes = 64 * 1024;

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>Null when the file is fine, else one line naming the file and the fix.</summary>
    public static string? Problem(string path, bool allowGroupReadable)
    {
        if (!File.Exists(path))
            return Directory.Exists(path)
                ? $"key file {path} is a directory, not a PEM file"
                : $"key file {path} does not exist (create it with: milter keygen --domain D --selector S --directory {Path.GetDirectoryName(path)})";
        if (OperatingSystem.IsWindows()) return null;
        if (UnixFileType.Of(path, followLinks: true) is { } type && type != UnixFileType.Regular)
            return $"key file {path} is not a regular file ({UnixFileType.Describe(type)}): give the path of a PEM file";
        var mode = File.GetUnixFileMode(path);
        var octal = Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');
        if ((mode & UnixFileMode.OtherWrite) != 0)
            return $"key file {path} is writable by everyone (mode {octal}): run chmod 600 {path} (refused even with Signing:AllowGroupReadableKeys)";
        if (!allowGroupReadable && (mode & GroupOrOthers) != 0)
            return $"key file {path} is readable or writable by group or others (mode {octal}): run chmod 600 {path}, " +
                   "or set Signing:AllowGroupReadableKeys=true where a volume cannot keep the mode";
        return null;
    }

    /// <summary>The file's text, at most <see cref="MaxBytes"/> bytes. Throws <see cref="IOException"/> for a
    /// longer file or one that is not a regular file once opened (checked again: the path may have changed).</summary>
    public static string ReadBounded(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.None);
        if (!stream.CanSeek)
            throw new IOException("not a regular file");
        var buffer = new byte[MaxBytes + 1];
        int total = 0, n;
        while (total < buffer.Length && (n = stream.Read(buffer, total, buffer.Length - total)) > 0)
            total += n;
        if (total > MaxBytes)
            throw new IOException($"larger than {MaxBytes} bytes; a DKIM private key is far smaller");
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>The group/others bits of a file, for warnings (e.g. `milter testkey`).</summary>
    public static bool IsGroupOrOtherAccessible(string path)
        => !OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & GroupOrOthers) != 0;
}
