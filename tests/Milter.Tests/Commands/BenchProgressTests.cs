using Milter.Commands.Bench;

namespace Milter.Tests.Commands;

/// <summary>Issue 20 item 5: the bench progress line, in its terminal (rewritten in place) and plain forms.</summary>
public sealed class BenchProgressTests
{
    /// <summary>A StringWriter that the progress loop and the test may use at once.</summary>
    private sealed class SharedWriter : StringWriter
    {
        private readonly Lock _lock = new();

        public override void Write(string? value)
        {
            lock (_lock) base.Write(value);
        }

        public string Text
        {
            get { lock (_lock) return ToString(); }
        }
    }

    private static BenchProgress Ran(int total, int completed, int errors)
    {
        var progress = new BenchProgress(total);
        progress.Start();
        for (var i = 0; i < completed; i++) progress.Completed();
        for (var i = 0; i < errors; i++) progress.Error();
        return progress;
    }

    [Fact]
    public void The_line_says_done_of_total_errors_rate_and_time()
    {
        Assert.Equal("bench: 0/10 messages, starting", new BenchProgress(10).Line());
        Assert.Matches(@"^bench: 4/10 messages, 1 error, \d+\.\d messages/s, \d+\.\d s$", Ran(10, 3, 1).Line());
        Assert.Matches(@"^bench: 7/10 messages, 2 errors, ", Ran(10, 5, 2).Line());
    }

    [Fact]
    public async Task Plain_form_is_whole_lines_at_start_and_end()
    {
        var output = new SharedWriter();
        var progress = new BenchProgress(10);
        await using (new BenchProgressWriter(progress, output, terminal: false, TimeSpan.FromHours(1)))
        {
            progress.Start();
            progress.Completed();
            progress.Error();
        }
        var lines = output.Text.Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("bench: 0/10 messages, starting", lines[0]);
        Assert.StartsWith("bench: 2/10 messages, 1 error, ", lines[1], StringComparison.Ordinal);
        Assert.Equal("", lines[2]);
        Assert.DoesNotContain('\r', output.Text);
    }

    [Fact]
    public async Task Plain_form_repeats_the_line_each_interval()
    {
        var output = new SharedWriter();
        var progress = Ran(10, 1, 0);
        await using (new BenchProgressWriter(progress, output, terminal: false, TimeSpan.FromMilliseconds(50)))
        {
            // Bounded wait: three lines (the first and two ticks) come within 50 ms each, allow 30 s on a loaded machine.
            for (var i = 0; i < 300 && output.Text.Count(c => c == '\n') < 3; i++) await Task.Delay(100);
        }
        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 4, output.Text);
        Assert.All(lines, l => Assert.StartsWith("bench: 1/10 messages, 0 errors, ", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Terminal_form_rewrites_one_line_in_place_and_ends_it()
    {
        var output = new SharedWriter();
        var progress = new BenchProgress(1000);
        await using (new BenchProgressWriter(progress, output, terminal: true, TimeSpan.FromHours(1)))
        {
            progress.Start();
            progress.Completed();
        }
        var text = output.Text;
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.Equal(1, text.Count(c => c == '\n'));
        var updates = text.TrimEnd('\n').Split('\r');
        Assert.Equal("", updates[0]);
        Assert.Equal("bench: 0/1000 messages, starting", updates[1]);
        Assert.StartsWith("bench: 1/1000 messages, 0 errors, ", updates[^1], StringComparison.Ordinal);
        // Each update is at least as long as the one before, so nothing of it is left on the terminal.
        for (var i = 2; i < updates.Length; i++) Assert.True(updates[i].Length >= updates[i - 1].TrimEnd().Length, text);
    }
}
