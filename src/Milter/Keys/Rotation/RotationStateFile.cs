using System.Text.Json;
using Milter.Configuration;
using Milter.MailAuth.Dkim;
using Milter.Reporting.Aggregate;

namespace Milter.Keys.Rotation;

/// <summary>A rotation state file that cannot be used: <see cref="Exception.Message"/> names the file and the problem.</summary>
public sealed class RotationStateException : Exception
{
    public RotationStateException(string message) : base(message) { }
    public RotationStateException() { }
    public RotationStateException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Reads and writes <c>key-rotation.json</c>. A write goes to a temporary file in the same directory, flushed to
/// disk, then renamed over the old file (rename(2) is atomic: a reader sees the old state or the new one, never half);
/// read-modify-write runs under an exclusive lock on <c>key-rotation.json.lock</c>, so `keys rotate` and the daemon never
/// lose each other's change.</summary>
public sealed class RotationStateFile(string path)
{
    public const string FileName = "key-rotation.json";
    private const int MaxBytes = 1024 * 1024;

    public string Path { get; } = path;

    /// <summary>The state file of a configuration: in <c>Reports:DataDirectory</c> when it is set (and not ""), else in the
    /// first of /var/lib/milter and the user's state directory that holds one, else the first of them this user can write
    /// (the daemon's own choice of data directory, <see cref="ReportDataDirectory.Resolve"/>, without opening its database).</summary>
    public static RotationStateFile For(ReportsSection reports, Func<string, string?>? environment = null,
        string systemDefault = ReportDataDirectory.SystemDefault)
    {
        ArgumentNullException.ThrowIfNull(reports);
        if (!string.IsNullOrWhiteSpace(reports.DataDirectory))
            return new RotationStateFile(System.IO.Path.Combine(reports.DataDirectory.Trim(), FileName));
        var candidates = new List<string> { systemDefault };
        if (ReportDataDirectory.UserStateDirectory(environment ?? Environment.GetEnvironmentVariable) is { } user) candidates.Add(user);
        var chosen = candidates.FirstOrDefault(c => File.Exists(System.IO.Path.Combine(c, FileName)))
                     ?? candidates.FirstOrDefault(Writable) ?? systemDefault;
        return new RotationStateFile(System.IO.Path.Combine(chosen, FileName));
    }

    private static bool Writable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            using (new FileStream(System.IO.Path.Combine(directory, $".milter-probe-{Environment.ProcessId}"), FileMode.Create,
                       FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public bool Exists => File.Exists(Path);

    /// <summary>The state; an empty one when the file does not exist. Throws <see cref="RotationStateException"/> naming the
    /// file for one that cannot be read or is not a valid state.</summary>
    public RotationState Read()
    {
        string text;
        try
        {
            if (!File.Exists(Path)) return new RotationState();
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length > MaxBytes) throw new RotationStateException($"rotation state {Path}: larger than {MaxBytes} bytes");
            using var reader = new StreamReader(stream);
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RotationStateException($"rotation state {Path}: cannot be read: {e.Message}", e);
        }
        return Parse(text, Path);
    }

    /// <summary>Parses and checks a state; throws <see cref="RotationStateException"/> naming <paramref name="path"/>.</summary>
    public static RotationState Parse(string text, string path)
    {
        RotationState? state;
        try
        {
            state = JsonSerializer.Deserialize(text, RotationStateJsonContext.Default.RotationState);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}" : "";
            throw new RotationStateException($"rotation state {path} is corrupt: not valid JSON{where} ({OneLine(e.Message)})", e);
        }
        if (state is null) throw new RotationStateException($"rotation state {path} is corrupt: null");
        if (state.Version != RotationState.CurrentVersion)
            throw new RotationStateException($"rotation state {path}: version {state.Version} is not {RotationState.CurrentVersion} (written by another milter version?)");
        var seen = new HashSet<(string, string)>();
        foreach (var entry in state.Keys)
        {
            if (Problem(entry) is { } problem) throw new RotationStateException($"rotation state {path} is corrupt: {problem}");
            if (!seen.Add((entry.Domain, entry.Algorithm)))
                throw new RotationStateException($"rotation state {path} is corrupt: two entries for {entry.Domain} {entry.Algorithm}");
        }
        return state;
    }

    private static string? Problem(RotationEntry e)
    {
        if (e is null) return "an entry is null";
        if (!DkimKeyRecordName.IsValidDomain(e.Domain ?? "")) return $"domain \"{e.Domain}\" is not a domain name";
        if (e.Algorithm is not ("rsa-sha256" or "ed25519-sha256")) return $"{e.Domain}: algorithm \"{e.Algorithm}\" is not rsa-sha256 or ed25519-sha256";
        foreach (var (what, key) in new[] { ("active", e.Active), ("pending", e.Pending) }.Concat((e.Retiring ?? []).Select(r => ("retiring", (RotationKey?)r))))
        {
            if (key is null)
            {
                if (what == "pending") continue;
                return $"{e.Domain} {e.Algorithm}: no {what} key";
            }
            if (!DkimKeyRecordName.IsValidSelector(key.Selector ?? "")) return $"{e.Domain} {e.Algorithm}: {what} selector \"{key.Selector}\" is not a selector";
            if (string.IsNullOrWhiteSpace(key.KeyFile) || !System.IO.Path.IsPathRooted(key.KeyFile))
                return $"{e.Domain} {e.Algorithm}: {what} key file \"{key.KeyFile}\" is not an absolute path";
        }
        return null;
    }

    /// <summary>Reads the state, applies <paramref name="change"/> and writes the result, under the lock. Returns the new
    /// state. A <paramref name="change"/> returning the same instance writes nothing.</summary>
    public RotationState Update(Func<RotationState, RotationState> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        using var _ = Lock();
        var before = Read();
        var after = change(before);
        if (!ReferenceEquals(before, after)) Write(after);
        return after;
    }

    /// <summary>Writes <paramref name="state"/> atomically: temp file, flush, rename.</summary>
    public void Write(RotationState state)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        var temp = System.IO.Path.Combine(directory, $".{FileName}.tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(directory);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            using (var stream = new FileStream(temp, options))
            {
                JsonSerializer.Serialize(stream, state, RotationStateJsonContext.Default.RotationState);
                stream.Write("\n"u8);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new RotationStateException($"rotation state {Path}: cannot be written: {e.Message}", e);
        }
    }

    /// <summary>An exclusive lock (flock) on the lock file beside the state, waited for up to 10 seconds. The lock file is
    /// opened for reading only, so a root `keys rotate` and the daemon's user can share one file made by either.</summary>
    private FileStream Lock()
    {
        var lockPath = Path + ".lock";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(lockPath))!);
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Read, Share = FileShare.None };
                if (!OperatingSystem.IsWindows())
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
                return new FileStream(lockPath, options);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new RotationStateException($"rotation state {Path}: cannot lock {lockPath}: {e.Message}", e);
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a temporary file is left behind
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
