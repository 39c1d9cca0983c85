using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace Milter.Reporting.Aggregate;

/// <summary>
/// The busy handler of a report store connection: while another connection holds the write lock, try again every
/// millisecond (every 10 ms after the first 100 ms), up to the timeout. SQLite's own handler (<c>PRAGMA busy_timeout</c>)
/// sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms between tries, so a writer behind a 30 ms retention
/// delete woke only at 33 ms or 53 ms, and one behind an 80 ms delete at 103 ms: its wait grew to half as much again as
/// the lock was held.
/// </summary>
internal static class SqliteBusyWait
{
    private static readonly TimeSpan Fine = TimeSpan.FromMilliseconds(100);

    /// <summary>When the current thread's statement first found the lock taken (a statement waits on its own thread).</summary>
    [ThreadStatic]
    private static long t_since;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int BusyHandler(IntPtr arg, int count);

    /// <summary>One delegate for every connection, alive as long as the process (SQLite keeps only its pointer).</summary>
    private static readonly BusyHandler Handler = OnBusy;

    // The library Microsoft.Data.Sqlite's bundle loads (SQLitePCLRaw.provider.e_sqlite3 binds to the same name); SQLitePCLRaw
    // 2.1 has no sqlite3_busy_handler of its own.
    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    private static extern int sqlite3_busy_handler(IntPtr db, BusyHandler? handler, IntPtr arg);

    /// <summary>How long a statement waits for a lock before it fails with SQLITE_BUSY.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Replaces the connection's busy handler (and any busy_timeout) with this one.</summary>
    public static void Install(SqliteConnection connection)
    {
        int rc = sqlite3_busy_handler(connection.Handle!.DangerousGetHandle(), Handler, IntPtr.Zero);
        SqliteException.ThrowExceptionForRC(rc, connection.Handle);
    }

    /// <summary>SQLite calls it with count 0 at a statement's first busy try: 1 to try again, 0 to give up.</summary>
    private static int OnBusy(IntPtr arg, int count)
    {
        long now = Stopwatch.GetTimestamp();
        if (count == 0)
            t_since = now;
        var waited = Stopwatch.GetElapsedTime(t_since, now);
        if (waited >= Timeout)
            return 0;
        Thread.Sleep(waited < Fine ? 1 : 10);
        return 1;
    }
}
