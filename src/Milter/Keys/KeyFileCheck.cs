namespace Milter.Keys;

/// <summary>Checks a private key file before it is read: it exists, is a regular file, and is not readable
/// or writable by group or others unless the operator allows it (container volumes often need that).</summary>
public static class KeyFileCheck
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>Null when the file is fine, else one line naming the file and the fix.</summary>
    public static string? Problem(string path, bool allowGroupReadable)
    {
        if (!File.Exists(path))
            return Directory.Exists(path)
                ? $"key file {path} is a directory, not a PEM file"
                : $"key file {path} does not exist (create it with: milter keygen --domain D --selector S --directory {Path.GetDirectoryName(path)})";
        if (OperatingSystem.IsWindows() || allowGroupReadable) return null;
        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOthers) != 0)
        {
            var octal = Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');
            return $"key file {path} is readable or writable by group or others (mode {octal}): run chmod 600 {path}, " +
                   "or set Signing:AllowGroupReadableKeys=true where a volume cannot keep the mode";
        }
        return null;
    }

    /// <summary>The group/others bits of a file, for warnings (e.g. `milter testkey`).</summary>
    public static bool IsGroupOrOtherAccessible(string path)
        => !OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & GroupOrOthers) != 0;
}
