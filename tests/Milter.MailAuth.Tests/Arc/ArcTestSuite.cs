using System.Text;
using Milter.MailAuth.Tests.DkimVerify;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Milter.MailAuth.Tests.Arc;

/// <summary>One test of the ValiMail ARC suite (TestData/arc, see its PROVENANCE.md): its scenario's fields and its own.</summary>
public sealed record ArcSuiteCase(string Id, IReadOnlyDictionary<string, string> Fields, IReadOnlyDictionary<string, string> Scenario,
    IReadOnlyDictionary<string, string> TxtRecords)
{
    public string Field(string key) => Fields.TryGetValue(key, out var v) ? v : "";

    /// <summary>The message with CRLF line ends (the YAML has LF).</summary>
    public byte[] Message => Encoding.UTF8.GetBytes(Field("message").Replace("\r\n", "\n").Replace("\n", "\r\n"));

    /// <summary>A resolver answering the scenario's TXT records (a multi-line value is several strings of one record).</summary>
    internal InMemoryDnsResolver Resolver()
    {
        var dns = new InMemoryDnsResolver();
        foreach (var (name, value) in TxtRecords) dns.AddTxt(name, value.Replace("\r", "").Replace("\n", ""));
        return dns;
    }
}

/// <summary>Loads arc-draft-validation-tests.yml and arc-draft-sign-tests.yml.</summary>
public static partial class ArcTestSuite
{
    [System.Text.RegularExpressions.GeneratedRegex(@"\|\n +\n(?= {0,4}[^ \n])")]
    private static partial System.Text.RegularExpressions.Regex EmptyBlock();

    public const string ValidationFile = "arc-draft-validation-tests.yml";
    public const string SignFile = "arc-draft-sign-tests.yml";

    private static readonly Dictionary<string, IReadOnlyList<ArcSuiteCase>> Cache = [];

    public static IReadOnlyList<ArcSuiteCase> Load(string file)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(file, out var cached)) return cached;
            var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "arc", file));
            // An empty literal block written as "|" then a line of spaces (PyYAML reads ""): YamlDotNet rejects the
            // spaces ("extra spaces in first line"), so they go; nothing else changes.
            text = EmptyBlock().Replace(text, "|\n\n");
            var cases = new List<ArcSuiteCase>();
            foreach (var root in LastKeyWins.Documents(text))
            {
                var scenario = Scalars(root);
                var txt = root.TryGetValue("txt-records", out var t) ? Scalars((Dictionary<string, object>)t) : [];
                foreach (var (key, value) in (Dictionary<string, object>)root["tests"])
                    cases.Add(new ArcSuiteCase(key, Scalars((Dictionary<string, object>)value), scenario, txt));
            }
            return Cache[file] = cases;
        }
    }

    public static ArcSuiteCase Case(string file, string id) => Load(file).Single(c => c.Id == id);

    public static TheoryData<string> Ids(string file)
    {
        var data = new TheoryData<string>();
        foreach (var c in Load(file)) data.Add(c.Id);
        return data;
    }

    private static Dictionary<string, string> Scalars(Dictionary<string, object> node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in node)
            if (v is string s) result[k] = s;
        return result;
    }
}

/// <summary>YAML documents as nested dictionaries (scalars as strings, sequences as lists), a repeated key keeping its
/// last value as PyYAML does: the upstream validation file repeats the key as_fields_b_head_case (the suite's
/// harness, in Python, runs the second one; the count of 171 tests is after that).</summary>
internal static class LastKeyWins
{
    public static List<Dictionary<string, object>> Documents(string text)
    {
        var parser = new Parser(new StringReader(text));
        var documents = new List<Dictionary<string, object>>();
        parser.Consume<StreamStart>();
        while (parser.TryConsume<DocumentStart>(out _))
        {
            documents.Add((Dictionary<string, object>)Node(parser));
            parser.Consume<DocumentEnd>();
        }
        return documents;
    }

    private static object Node(IParser parser)
    {
        if (parser.TryConsume<Scalar>(out var scalar)) return scalar.Value;
        if (parser.TryConsume<SequenceStart>(out _))
        {
            var list = new List<object>();
            while (!parser.TryConsume<SequenceEnd>(out _)) list.Add(Node(parser));
            return list;
        }
        parser.Consume<MappingStart>();
        var map = new Dictionary<string, object>(StringComparer.Ordinal);
        while (!parser.TryConsume<MappingEnd>(out _))
        {
            var key = parser.Consume<Scalar>().Value;
            map[key] = Node(parser);
        }
        return map;
    }
}
