using Milter.MailAuth.Dkim;
using Milter.TestKit;

namespace Milter.Tests.Configuration.OpenDkim;

/// <summary>An OpenDKIM setup on disk for tests: opendkim.conf, its tables and key files (mode 0600) in one temp dir.</summary>
internal sealed class OpenDkimFiles : IDisposable
{
    private readonly TempDir _dir = new("opendkim-files");

    public string Dir => _dir.Path;
    public string Conf => _dir.File("opendkim.conf");

    /// <summary>Writes FILE (relative to the dir) and returns its full path.</summary>
    public string Write(string name, string text)
    {
        var path = _dir.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        return path;
    }

    /// <summary>opendkim.conf with these lines ({DIR} is the temp dir).</summary>
    public string WriteConf(string text) => Write("opendkim.conf", text.Replace("{DIR}", Dir, StringComparison.Ordinal));

    /// <summary>A private key file keys/NAME.private (mode 0600 unless given), written once; returns its path.</summary>
    public string Key(string name, DkimKeyType type = DkimKeyType.Rsa, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite, int bits = 1024)
    {
        var path = _dir.File($"keys/{name}.private");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var key = DkimPrivateKey.Generate(type, bits);
            File.WriteAllText(path, key.ExportPkcs8Pem());
        }
        TempDir.SetMode(path, mode);
        return path;
    }

    public void Dispose() => _dir.Dispose();
}
