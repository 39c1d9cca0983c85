using System.Globalization;

namespace Milter.Containers.Tests;

/// <summary>Measured figures (build times, image sizes, time to healthy, drill counts): kept in order and
/// appended to $TMPDIR/milter-container-figures.txt, which ./test.sh prints after the run.</summary>
public static class Figures
{
    public static readonly string FilePath = Path.Combine(Path.GetTempPath(), "milter-container-figures.txt");
    private static readonly object Gate = new();

    public static void Add(string line)
    {
        lock (Gate)
            File.AppendAllText(FilePath, line + "\n");
    }

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    public static string Megabytes(long bytes) => (bytes / 1e6).ToString("0", CultureInfo.InvariantCulture) + " MB";
}
