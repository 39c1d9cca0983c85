using System.Globalization;
using System.Runtime.InteropServices;

namespace Milter.TestKit;

/// <summary>Signals and waits for processes by PID (Linux /proc), for daemons that fork away from the
/// process the fixture started (postfix master). Never by name.</summary>
public static partial class UnixProcess
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    public static bool IsAlive(int pid)
    {
        string stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat))
            return false;
        try
        {
            // A zombie has exited; only its parent's wait is missing.
            return StateOf(File.ReadAllText(stat)) != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Sends a signal; false when the process is gone.</summary>
    public static bool Signal(int pid, int signal) => pid > 1 && Kill(pid, signal) == 0;

    /// <summary>The PIDs whose parent is <paramref name="pid"/>.</summary>
    public static IReadOnlyList<int> Children(int pid)
    {
        var children = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int candidate))
                continue;
            try
            {
                if (ParentOf(File.ReadAllText(Path.Combine(dir, "stat"))) == pid)
                    children.Add(candidate);
            }
            catch (IOException)
            {
                // exited while we looked
            }
        }
        return children;
    }

    /// <summary>Waits until every PID has exited; after <paramref name="grace"/> sends SIGKILL to those
    /// still alive and waits a little more. Returns the PIDs that had to be killed.</summary>
    public static async Task<IReadOnlyList<int>> WaitOrKillAsync(IEnumerable<int> pids, TimeSpan grace)
    {
        var list = pids.ToList();
        var deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline && list.Any(IsAlive))
            await Task.Delay(25);
        var killed = list.Where(IsAlive).ToList();
        foreach (int pid in killed)
            Signal(pid, SigKill);
        var hardDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < hardDeadline && killed.Any(IsAlive))
            await Task.Delay(25);
        return killed;
    }

    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    private static char StateOf(string stat) => stat[stat.LastIndexOf(')') + 2];

    private static int ParentOf(string stat)
    {
        string[] rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(rest[1], CultureInfo.InvariantCulture);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
