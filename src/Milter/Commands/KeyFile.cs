using Milter.Keys;
using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>Reading a private key file for the CLI: any failure is a usage error (exit 2) naming the file.</summary>
internal static class KeyFile
{
    public static DkimPrivateKey Load(string command, string path)
    {
        string text;
        // The daemon's checks, with group/other access only warned about (below): not a regular file (a FIFO
        // would block, /dev/zero never ends) or world-writable is refused; at most KeyFileCheck.MaxBytes are read.
        if (!File.Exists(path))
            throw new UsageException($"{command}: key file {path} does not exist");
        if (KeyFileCheck.Problem(path, allowGroupReadable: true) is { } problem)
            throw new UsageException($"{command}: {problem}");
        try
        {
            text = KeyFileCheck.ReadBounded(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{command}: cannot read key file {path}: {e.Message}");
        }
        var loaded = DkimPrivateKey.Load(text);
        if (loaded.Key is null)
            throw new UsageException($"{command}: key file {path}: {loaded.Error}");
        WarnIfExposed(path);
        return loaded.Key;
    }

    /// <summary>A warning on stderr when group or others may read or write the key file.</summary>
    public static void WarnIfExposed(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode exposed = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        if ((mode & exposed) != 0)
            Console.Error.WriteLine($"warning: key file {path} is accessible by group or others (mode {FormatMode(mode)}); run chmod 600 {path}");
    }

    public static string FormatMode(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');

    /// <summary>Checks that --algorithm, when given, names the algorithm of the key.</summary>
    public static void CheckAlgorithm(string command, string? algorithm, DkimPrivateKey key, string path)
    {
        if (algorithm is null) return;
        if (algorithm is not ("rsa-sha256" or "ed25519-sha256"))
            throw new UsageException($"{command}: --algorithm must be rsa-sha256 or ed25519-sha256, not '{algorithm}'");
        if (algorithm != key.Algorithm)
            throw new UsageException($"{command}: --algorithm {algorithm} does not fit key file {path}, which holds a {KeyRecordCheck.Describe(key)} key");
    }
}
