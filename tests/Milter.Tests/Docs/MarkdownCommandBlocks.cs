using System.Text.RegularExpressions;

namespace Milter.Tests.Docs;

/// <summary>What the doc test does with one fenced block: run it (from <see cref="Folder"/> of a copy of the
/// checkout) or skip it for the stated <see cref="Reason"/>.</summary>
public enum DocBlockAction { Run, Skip }

/// <summary>One fenced block of a Markdown file, with the doc-test marker written on the line before it.</summary>
public sealed record DocBlock(string File, int Line, string Language, string Text, DocBlockAction Action, string Folder, string Reason)
{
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>
/// Reads the fenced blocks of a Markdown file. Each block must have a marker as the last non-blank line
/// before its opening fence:
/// <c>&lt;!-- doc-test: run in FOLDER --&gt;</c> (a shell block the test runs as written, from FOLDER of a copy
/// of the checkout) or <c>&lt;!-- doc-test: skip (REASON) --&gt;</c> (one that cannot run here, and why). A block
/// without a marker, or with one the test does not know, is a problem: a new block cannot slip past the test.
/// </summary>
public static partial class MarkdownCommandBlocks
{
    public static readonly string[] ShellLanguages = ["sh", "bash", "shell"];

    public static (List<DocBlock> Blocks, List<string> Problems) Read(string file, string markdown)
    {
        var blocks = new List<DocBlock>();
        var problems = new List<string>();
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var open = Fence().Match(lines[i]);
            if (!open.Success) continue;
            int start = i;
            var body = new List<string>();
            for (i++; i < lines.Length && !ClosingFence().IsMatch(lines[i]); i++) body.Add(lines[i]);
            if (i == lines.Length) problems.Add($"{file}:{start + 1}: the block is never closed");
            string where = $"{file}:{start + 1}";
            string language = open.Groups[1].Value;
            string? marker = lines.Take(start).Reverse().FirstOrDefault(l => l.Trim().Length > 0)?.Trim();
            var run = RunMarker().Match(marker ?? "");
            var skip = SkipMarker().Match(marker ?? "");
            if (run.Success && ShellLanguages.Contains(language))
                blocks.Add(new DocBlock(file, start + 1, language, string.Join('\n', body) + "\n", DocBlockAction.Run, run.Groups[1].Value, ""));
            else if (run.Success)
                problems.Add($"{where}: only a shell block (```sh) can be run, this one is ```{language}");
            else if (skip.Success)
                blocks.Add(new DocBlock(file, start + 1, language, string.Join('\n', body) + "\n", DocBlockAction.Skip, "", skip.Groups[1].Value.Trim()));
            else
                problems.Add($"{where}: a ```{language} block without a doc-test marker on the line before it " +
                    "(<!-- doc-test: run in FOLDER --> or <!-- doc-test: skip (why it cannot run in the tests) -->); the line there is: " +
                    (marker ?? "(none)"));
        }
        return (blocks, problems);
    }

    [GeneratedRegex(@"^\s{0,3}```\s*([A-Za-z0-9_+-]*)\s*$")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^\s{0,3}```\s*$")]
    private static partial Regex ClosingFence();

    [GeneratedRegex(@"^<!-- doc-test: run in ([A-Za-z0-9_./-]+) -->$")]
    private static partial Regex RunMarker();

    /// <summary>A reason is required: "skip ()" or "skip" alone does not match.</summary>
    [GeneratedRegex(@"^<!-- doc-test: skip \((.*[A-Za-z].*)\) -->$")]
    private static partial Regex SkipMarker();
}
