using System.Collections.Concurrent;

namespace Milter.TestKit;

/// <summary>Last-resort cleanup when the test process exits normally with fixtures still running (a test
/// that forgot to dispose one): kills the recorded PIDs and deletes the temp dirs. It cannot help when the
/// test host itself is killed with SIGKILL.</summary>
internal static class Janitor
{
    private static readonly ConcurrentDictionary<long, Action> Pending = new();
    private static long _next;

    static Janitor()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAll();
    }

    /// <summary>Registers a cleanup; dispose the token once the fixture has cleaned up after itself.</summary>
    public static IDisposable Register(Action cleanup)
    {
        long id = Interlocked.Increment(ref _next);
        Pending[id] = cleanup;
        return new Token(id);
    }

    private static void RunAll()
    {
        // Processes first (ids were handed out in start order; stop the newest first), then directories.
        foreach (var pair in Pending.OrderByDescending(p => p.Key))
        {
            try
            {
                pair.Value();
            }
            catch (Exception)
            {
                // Best effort while the process exits.
            }
        }
        Pending.Clear();
    }

    private sealed class Token(long id) : IDisposable
    {
        public void Dispose() => Pending.TryRemove(id, out _);
    }
}
