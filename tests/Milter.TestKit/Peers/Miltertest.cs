using System.Globalization;
using System.Text;

namespace Milter.TestKit.Peers;

/// <summary>What one miltertest run printed, with the script for failure messages.</summary>
public sealed record MiltertestResult(ProcessResult Process, string Script)
{
    public bool Succeeded => Process.Succeeded;
    public string StdOut => Process.StdOut;
    public string StdErr => Process.StdErr;
    public int ExitCode => Process.ExitCode;

    public string Describe()
    {
        var numbered = new StringBuilder();
        int n = 0;
        foreach (string line in Script.Split('\n'))
            numbered.Append(CultureInfo.InvariantCulture, $"{++n,4}: {line}\n");
        return $"{Process.Describe()}\n--- script ---\n{numbered}";
    }

    public MiltertestResult EnsureSuccess()
    {
        if (!Succeeded)
            throw new InvalidOperationException($"miltertest failed:\n{Describe()}");
        return this;
    }
}

/// <summary>
/// Runs /usr/bin/miltertest (OpenDKIM's milter test driver) on a Lua script, bounded by a timeout.
/// miltertest exits 1 with no message on a Lua error, so the script is wrapped: it is loaded as a chunk
/// (a syntax error is printed, exit 3) and run under pcall (a runtime error is printed with the last step
/// named by <c>step("...")</c>, exit 2). Helpers available to the script:
/// <c>step(name)</c> labels what follows; <c>expect(conn, code, what)</c> reads <c>mt.getreply(conn)</c> and
/// errors unless it equals <c>code</c> (e.g. SMFIR_CONTINUE, SMFIR_ACCEPT, SMFIR_TEMPFAIL).
/// </summary>
public static class Miltertest
{
    public const string MiltertestPath = "/usr/bin/miltertest";

    private const string Prelude = """
        local __step = "(before the first step)"
        function step(name)
          __step = name
          print("step: " .. name)
        end
        function expect(conn, code, what)
          local got = mt.getreply(conn)
          if got ~= code then
            error(string.format("%s: expected reply %s, got %s", what or __step, tostring(code), tostring(got)), 2)
          end
        end
        local __load = loadstring or load
        local __chunk, __syntax = __load(__SCRIPT, "test.lua")
        if not __chunk then
          io.stdout:flush()
          io.stderr:write("miltertest: Lua syntax error: " .. tostring(__syntax) .. "\n")
          os.exit(3)
        end
        local __ok, __err = pcall(__chunk)
        if not __ok then
          io.stdout:flush()
          io.stderr:write("miltertest: Lua error in step '" .. __step .. "': " .. tostring(__err) .. "\n")
          os.exit(2)
        end
        """;

    /// <summary>Runs the script. <paramref name="defines"/> become Lua globals (miltertest -D name=value,
    /// strings), e.g. the milter's port. Never throws for a failing script: check <see cref="MiltertestResult.Succeeded"/>
    /// or call <see cref="MiltertestResult.EnsureSuccess"/>.</summary>
    public static async Task<MiltertestResult> RunAsync(string luaScript, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? defines = null, CancellationToken ct = default)
    {
        ProcessRunner.Require(MiltertestPath, "miltertest");
        using var dir = new TempDir("miltertest");
        string path = dir.File("script.lua");
        await File.WriteAllTextAsync(path, Wrap(luaScript), ct);
        var args = new List<string>();
        foreach (var pair in defines ?? new Dictionary<string, string>())
            args.AddRange(["-D", $"{pair.Key}={pair.Value}"]);
        args.AddRange(["-s", path]);
        var result = await ProcessRunner.RunAsync(MiltertestPath, args, timeout ?? TimeSpan.FromSeconds(30), ct);
        return new MiltertestResult(result, luaScript);
    }

    /// <summary>The user script as a Lua long-bracket string (a level of '=' that does not occur in it).</summary>
    internal static string Wrap(string luaScript)
    {
        string level = "=";
        while (luaScript.Contains("]" + level + "]", StringComparison.Ordinal))
            level += "=";
        return $"local __SCRIPT = [{level}[\n{luaScript}]{level}]\n{Prelude}";
    }
}
