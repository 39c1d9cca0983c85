using System.Globalization;
using System.Security.Cryptography;

namespace Milter.TestKit.Databases;

/// <summary>
/// A private PostgreSQL server from Debian's postgresql package: its own cluster (initdb) in a temp dir, listening only
/// on 127.0.0.1 at a free port, password (SCRAM) authentication for one user, started and stopped with pg_ctl (no
/// system service). PostgreSQL refuses to run as root, so under root its programs run as the package's postgres user
/// (runuser). <see cref="StopAsync"/> and <see cref="StartAgainAsync"/> take the same cluster down and up (fault tests).
/// Missing binaries throw <see cref="FileNotFoundException"/> naming the package.
/// </summary>
public sealed class PostgresInstance : IAsyncDisposable
{
    public const string User = "milter";
    private const string DebianPackage = "postgresql";
    private const int SigQuit = 3;

    private readonly TempDir _dir;
    private readonly string _bin;
    private readonly IDisposable _janitor;
    private int _pid;

    private PostgresInstance(TempDir dir, string bin, int port, string password)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
        Password = password;
        _janitor = Janitor.Register(() =>
        {
            // SIGQUIT: PostgreSQL's immediate shutdown, which also ends its backends (SIGKILL would orphan them).
            if (_pid > 0 && UnixProcess.Signal(_pid, SigQuit))
                UnixProcess.WaitOrKillAsync([_pid], TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        });
    }

    public int Port { get; }
    public string Password { get; }
    public string DataDirectory => _dir.File("data");
    public string LogFile => _dir.File("postgres.log");

    /// <summary>The postmaster's PID while it runs (0 when stopped).</summary>
    public int Pid => _pid;

    /// <summary>An Npgsql connection string for <paramref name="database"/> (pooling off unless asked: tests stop the server).</summary>
    public string ConnectionString(string database = "postgres", bool pooling = true) =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username={User};Password={Password};Pooling={pooling};Timeout=5;Command Timeout=60";

    /// <summary>The server's bin directory (/usr/lib/postgresql/VERSION/bin, the newest installed).</summary>
    public static string FindBin()
    {
        const string root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(d => d.Version > 0 && File.Exists(Path.Combine(d.Dir, "bin", "pg_ctl")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin"))
                .FirstOrDefault()
            : null;
        if (bin is null)
            throw new FileNotFoundException(
                $"pg_ctl not found under {root}/VERSION/bin: install the Debian package {DebianPackage} (./test.sh does)", root + "/VERSION/bin/pg_ctl");
        ProcessRunner.Require(Path.Combine(bin, "initdb"), DebianPackage);
        ProcessRunner.Require(Path.Combine(bin, "postgres"), DebianPackage);
        return bin;
    }

    /// <summary>initdb, then start. Takes a few seconds.</summary>
    public static async Task<PostgresInstance> StartAsync()
    {
        string bin = FindBin();
        var dir = new TempDir("pg");
        var instance = new PostgresInstance(dir, bin, FreePort.Next(), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)));
        try
        {
            await instance.InitAsync();
            await instance.StartAgainAsync();
            return instance;
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    private async Task InitAsync()
    {
        string pwfile = _dir.File("pwfile");
        await File.WriteAllTextAsync(pwfile, Password + "\n");
        Directory.CreateDirectory(DataDirectory);
        await ChownAsync(_dir.Path);
        (await RunAsync("initdb", ["-D", DataDirectory, "-U", User, "--pwfile", pwfile, "--auth=scram-sha-256", "-E", "UTF8",
            "--locale=C", "--no-sync"], TimeSpan.FromSeconds(120))).EnsureSuccess("initdb");
        File.Delete(pwfile);
        // Loopback only, at our port; the socket in our own dir; fast and small (a test server, not a durable one).
        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), $"""

            listen_addresses = '127.0.0.1'
            port = {Port}
            unix_socket_directories = '{_dir.Path}'
            max_connections = 60
            shared_buffers = 32MB
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            log_min_messages = warning
            """);
    }

    /// <summary>pg_ctl start, waiting until it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        var result = await RunAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "90", "start"], TimeSpan.FromSeconds(120));
        if (!result.Succeeded)
            throw new InvalidOperationException($"PostgreSQL did not start: {result.Describe()}\n{Tail()}");
        _pid = ReadPid();
    }

    /// <summary>pg_ctl stop -m fast (connections are cut at once), then the postmaster's PID is waited for.</summary>
    public async Task StopAsync()
    {
        if (_pid == 0)
            return;
        var result = await RunAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], TimeSpan.FromSeconds(90));
        await UnixProcess.WaitOrKillAsync([_pid], TimeSpan.FromSeconds(result.Succeeded ? 10 : 1));
        _pid = 0;
    }

    /// <summary>Creates a database owned by <see cref="User"/> (one per test keeps tests on one server apart).</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        (await PsqlAsync("postgres", $"CREATE DATABASE \"{name}\";")).EnsureSuccess("CREATE DATABASE");
        return ConnectionString(name);
    }

    /// <summary>Runs SQL with psql (-At: bare values, one row a line).</summary>
    public Task<ProcessResult> PsqlAsync(string database, string sql) =>
        ProcessRunner.RunAsync("/usr/bin/env", ["PGPASSWORD=" + Password, Path.Combine(_bin, "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-At",
            "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, "-d", database, "-c", sql], TimeSpan.FromSeconds(120));

    public string Tail(int lines = 30) =>
        File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(lines)) : "(no log)";

    private int ReadPid()
    {
        string pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        return File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
    }

    private Task<ProcessResult> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        string path = Path.Combine(_bin, program);
        if (!IsRoot)
            return ProcessRunner.RunAsync(path, arguments, timeout);
        // The server refuses root: run it as the package's postgres user, from a directory that user can read.
        return ProcessRunner.RunAsync("/usr/sbin/runuser", ["-u", "postgres", "--", path, .. arguments], timeout, stdin: null, workingDirectory: _dir.Path);
    }

    private async Task ChownAsync(string path)
    {
        if (IsRoot)
            (await ProcessRunner.RunAsync("/bin/chown", ["-R", "postgres:postgres", path], TimeSpan.FromSeconds(30))).EnsureSuccess("chown");
    }

    private static bool IsRoot => Environment.UserName == "root";

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _janitor.Dispose();
            _dir.Dispose();
        }
    }
}
