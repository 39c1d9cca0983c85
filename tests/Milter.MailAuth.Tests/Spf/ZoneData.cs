using YamlDotNet.RepresentationModel;

namespace Milter.MailAuth.Tests.Spf;

/// <summary>One zonedata entry: a record (Type + value), "TYPE: NONE", or a bare TIMEOUT.</summary>
public sealed record ZoneEntry(string Type, IReadOnlyList<string> Strings, int Preference = 0, bool IsNone = false)
{
    public const string Timeout = "TIMEOUT";
    public bool IsTimeout => Type == Timeout;
    /// <summary>The single value of A, AAAA, PTR, CNAME, MX (exchange); the joined strings of TXT/SPF.</summary>
    public string Value => string.Concat(Strings);
}

/// <summary>
/// The zonedata of a test-suite scenario, keyed by lower-case name, in file order. As the suite's README says:
/// every SPF record is also a TXT record unless the name has a TXT entry of its own (TXT: NONE included).
/// </summary>
public sealed class ZoneData
{
    private readonly Dictionary<string, List<ZoneEntry>> _names = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, List<ZoneEntry>> Names => _names;

    public void Add(string name, ZoneEntry entry)
    {
        name = name.TrimEnd('.');
        if (!_names.TryGetValue(name, out var list))
            _names[name] = list = new List<ZoneEntry>();
        list.Add(entry);
    }

    /// <summary>The entries with SPF records copied to TXT where the name has no TXT entry (in place).</summary>
    public IReadOnlyList<ZoneEntry> EntriesWithTxt(string name)
    {
        if (!_names.TryGetValue(name, out var entries))
            return Array.Empty<ZoneEntry>();
        if (entries.Any(e => e.Type == "TXT"))
            return entries;
        var result = new List<ZoneEntry>(entries.Count * 2);
        foreach (var e in entries)
        {
            result.Add(e);
            if (e.Type == "SPF")
                result.Add(e with { Type = "TXT" });
        }
        return result;
    }

    public static ZoneData FromYaml(YamlMappingNode node)
    {
        var zone = new ZoneData();
        foreach (var (key, value) in node)
        {
            var name = ((YamlScalarNode)key).Value!;
            zone._names.TryAdd(name.TrimEnd('.'), new List<ZoneEntry>());
            foreach (var item in ((YamlSequenceNode)value).Children)
            {
                if (item is YamlScalarNode { Value: ZoneEntry.Timeout })
                {
                    zone.Add(name, new ZoneEntry(ZoneEntry.Timeout, Array.Empty<string>()));
                    continue;
                }
                foreach (var (typeNode, data) in (YamlMappingNode)item)
                {
                    var type = ((YamlScalarNode)typeNode).Value!.ToUpperInvariant();
                    zone.Add(name, Entry(type, data));
                }
            }
        }
        return zone;
    }

    private static ZoneEntry Entry(string type, YamlNode data)
    {
        if (type == "MX")
        {
            var pair = (YamlSequenceNode)data;
            return new ZoneEntry(type, new[] { ((YamlScalarNode)pair[1]).Value ?? "" },
                int.Parse(((YamlScalarNode)pair[0]).Value!, System.Globalization.CultureInfo.InvariantCulture));
        }
        if (data is YamlSequenceNode strings)
            return new ZoneEntry(type, strings.Children.Select(s => ((YamlScalarNode)s).Value ?? "").ToArray());
        var text = ((YamlScalarNode)data).Value ?? "";
        if (text == "NONE")
            return new ZoneEntry(type, Array.Empty<string>(), IsNone: true);
        return new ZoneEntry(type, new[] { text });
    }
}
