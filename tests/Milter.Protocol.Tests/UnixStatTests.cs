using System.Diagnostics;
using Milter.Shared;

namespace Milter.Protocol.Tests;

/// <summary>stat(2)/lstat(2) read from libc (src/Shared/UnixStat): the mode, owner and group agree with .NET's own
/// File.GetUnixFileMode and with `id`, on the path or on the link itself.</summary>
public sealed class UnixStatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("unixstat-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static uint Id(string flag)
    {
        using var id = Process.Start(new ProcessStartInfo("id", flag) { RedirectStandardOutput = true })!;
        var text = id.StandardOutput.ReadToEnd();
        Assert.True(id.WaitForExit(10_000), "id did not exit");
        return uint.Parse(text.Trim());
    }

    [Fact]
    public void A_file_gives_its_mode_owner_and_group()
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllText(path, "x");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        var stat = UnixStat.Of(path, followLinks: true);

        Assert.NotNull(stat);
        Assert.Equal(UnixFileType.Regular, stat.Value.Mode & UnixFileType.Mask);
        Assert.Equal(Convert.ToUInt32("640", 8), stat.Value.Mode & 0x1FF);
        Assert.Equal(Id("-u"), stat.Value.Uid);
        Assert.Equal(Id("-g"), stat.Value.Gid);
    }

    [Fact]
    public void A_link_is_a_link_only_when_links_are_not_followed()
    {
        var target = Path.Combine(_dir, "target");
        Directory.CreateDirectory(target);
        var link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, target);

        Assert.Equal(UnixFileType.SymbolicLink, UnixFileType.Of(link, followLinks: false));
        Assert.Equal(UnixFileType.Directory, UnixFileType.Of(link, followLinks: true));
    }

    [Fact]
    public void A_missing_path_gives_null() => Assert.Null(UnixStat.Of(Path.Combine(_dir, "none"), followLinks: true));
}
