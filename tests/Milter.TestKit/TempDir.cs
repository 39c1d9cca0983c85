namespace Milter.TestKit;

/// <summary>A fresh directory under the system temp folder, deleted on dispose. Mode 0755 so daemons
/// that drop privileges (postfix, opendkim) can reach what is below it.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix)
    {
        Path = Directory.CreateTempSubdirectory($"milter-{prefix}-").FullName;
        SetMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                      UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
                      UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        string path = Path;
        _janitor = Janitor.Register(() => Directory.Delete(path, recursive: true));
    }

    private readonly IDisposable _janitor;

    public string Path { get; }

    /// <summary>Creates (if needed) and returns a sub-directory.</summary>
    public string Sub(string relative)
    {
        string full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(full);
        return full;
    }

    public string File(string relative) => System.IO.Path.Combine(Path, relative);

    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
            System.IO.File.SetUnixFileMode(path, mode);
    }

    public void Dispose()
    {
        _janitor.Dispose();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (Directory.Exists(Path))
                    Directory.Delete(Path, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 2)
            {
                Thread.Sleep(100); // a daemon may still be writing its last file
            }
            catch (UnauthorizedAccessException) when (attempt < 2)
            {
                Thread.Sleep(100);
            }
        }
    }
}
