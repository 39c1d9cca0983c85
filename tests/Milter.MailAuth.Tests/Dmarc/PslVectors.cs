using Milter.MailAuth.Dmarc;

namespace Milter.MailAuth.Tests.Dmarc;

/// <summary>One checkPublicSuffix case: input and expected registrable domain (null = null).</summary>
public sealed record PslCase(string File, int Line, string? Input, string? Expected)
{
    /// <summary>The expected value as A-labels (the list and lookups use A-labels).</summary>
    public string? ExpectedALabels => Expected is null ? null : DmarcDomain.Normalize(Expected);

    public override string ToString() => $"{File}:{Line} {Input ?? "null"} -> {Expected ?? "null"}";
}

/// <summary>Reads TestData/psl/tests.txt ("input expected") and test_psl.txt ("checkPublicSuffix('input', 'expected');").</summary>
internal static class PslVectors
{
    public static IReadOnlyList<PslCase> Load(string file)
    {
        var cases = new List<PslCase>();
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "TestData", "psl", file));
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
                continue;
            string[] parts;
            if (line.StartsWith("checkPublicSuffix(", StringComparison.Ordinal))
                parts = line["checkPublicSuffix(".Length..line.LastIndexOf(')')].Split(',', StringSplitOptions.TrimEntries);
            else
                parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new InvalidDataException($"{file}:{i + 1}: cannot read \"{line}\"");
            cases.Add(new PslCase(file, i + 1, Value(parts[0]), Value(parts[1])));
        }
        return cases;
    }

    private static string? Value(string token) => token == "null" ? null : token.Trim('\'');

    public static TheoryData<PslCase> All()
    {
        var data = new TheoryData<PslCase>();
        foreach (var c in Load("tests.txt").Concat(Load("test_psl.txt")))
            data.Add(c);
        return data;
    }

    /// <summary>
    /// A zone that makes the RFC 9989 tree walk reproduce a case: a psd=y record at the public suffix the case
    /// implies (the parent of the expected registrable domain, or the input itself when the expected value is null).
    /// The records of all cases are consistent with each other, so one zone serves them all.
    /// </summary>
    public static IEnumerable<string> PsdNames(IEnumerable<PslCase> cases)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var c in cases)
        {
            if (c.Input is null || c.Input.StartsWith('.'))
                continue;
            if (c.ExpectedALabels is { } expected)
            {
                int dot = expected.IndexOf('.');
                if (dot > 0) names.Add(expected[(dot + 1)..]);
            }
            else
            {
                names.Add(DmarcDomain.Normalize(c.Input)!);
            }
        }
        return names;
    }
}
