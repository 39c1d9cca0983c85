using System.Diagnostics;
using System.Globalization;

namespace Milter.Commands.Bench;

/// <summary>Messages done and errors of the timed run so far, counted by every worker at once.</summary>
internal sealed class BenchProgress(int total)
{
    private int _done;
    private int _errors;
    private long _start;

    public int Total { get; } = total;

    /// <summary>The timed run begins (after the warm-up): the rate counts from here.</summary>
    public void Start() => Volatile.Write(ref _start, Stopwatch.GetTimestamp());

    public void Completed() => Interlocked.Increment(ref _done);

    public void Error()
    {
        Interlocked.Increment(ref _done);
        Interlocked.Increment(ref _errors);
    }

    /// <summary>"bench: 412/1000 messages, 0 errors, 523.4 messages/s, 0.8 s"; before the timed run (connecting, warm-up)
    /// "bench: 0/1000 messages, starting".</summary>
    public string Line()
    {
        var start = Volatile.Read(ref _start);
        var done = Volatile.Read(ref _done);
        var errors = Volatile.Read(ref _errors);
        if (start == 0) return string.Create(CultureInfo.InvariantCulture, $"bench: 0/{Total} messages, starting");
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var rate = seconds > 0 ? done / seconds : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"bench: {done}/{Total} messages, {errors} error{(errors == 1 ? "" : "s")}, {rate:F1} messages/s, {seconds:F1} s");
    }
}

/// <summary>
/// Writes <see cref="BenchProgress"/> to stderr while bench runs (issue 20 item 5), so that stdout keeps only the
/// figures or the JSON. On a terminal: one live line, rewritten in place ("\r") twice a second and ended with a
/// newline when the run ends. Otherwise (a log, a pipe): a plain line when the run starts, every
/// <c>interval</c>, and when it ends.
/// </summary>
internal sealed class BenchProgressWriter : IAsyncDisposable
{
    public static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(500);

    private readonly BenchProgress _progress;
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "Borrowed: the console (or a test's writer) belongs to the caller.")]
    private readonly TextWriter _output;
    private readonly bool _terminal;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _lastLength;

    public BenchProgressWriter(BenchProgress progress, TextWriter output, bool terminal, TimeSpan interval)
    {
        _progress = progress;
        _output = output;
        _terminal = terminal;
        Write();
        _loop = LoopAsync(terminal ? TerminalInterval : interval);
    }

    private async Task LoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token)) Write();
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
    }

    private void Write()
    {
        var line = _progress.Line();
        if (_terminal)
        {
            // Spaces cover what a longer earlier line left on the terminal.
            _output.Write("\r" + line.PadRight(_lastLength));
            _lastLength = line.Length;
        }
        else
        {
            _output.Write(line + "\n");
        }
        _output.Flush();
    }

    /// <summary>Stops the updates and writes the last line (on a terminal, ends the live line).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        Write();
        if (_terminal)
        {
            _output.Write("\n");
            _output.Flush();
        }
        _stop.Dispose();
    }
}
