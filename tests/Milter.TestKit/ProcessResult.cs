namespace Milter.TestKit;

/// <summary>The outcome of one finished (or killed) process run by <see cref="ProcessRunner"/>.</summary>
public sealed record ProcessResult(string Command, int ExitCode, string StdOut, string StdErr, bool TimedOut)
{
    public bool Succeeded => !TimedOut && ExitCode == 0;

    /// <summary>A multi-line description for assertion and exception messages.</summary>
    public string Describe() =>
        $"{Command}\nexit code: {(TimedOut ? "killed after timeout" : ExitCode.ToString())}\n" +
        $"--- stdout ---\n{StdOut.TrimEnd()}\n--- stderr ---\n{StdErr.TrimEnd()}";

    /// <summary>Throws with the whole output when the run did not succeed.</summary>
    public ProcessResult EnsureSuccess(string what)
    {
        if (!Succeeded)
            throw new InvalidOperationException($"{what} failed:\n{Describe()}");
        return this;
    }
}
