using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Tests.DkimVerify;

/// <summary>TXT answers from memory (names compared case-insensitively, unknown names NXDOMAIN); counts queries.</summary>
internal sealed class InMemoryDnsResolver : IDnsResolver
{
    private readonly ConcurrentDictionary<string, DnsAnswer<string>> _txt = new(StringComparer.OrdinalIgnoreCase);
    private int _queries;

    public int TxtQueries => _queries;

    public InMemoryDnsResolver AddTxt(string name, params string[] records)
    {
        _txt[name.TrimEnd('.')] = DnsAnswer<string>.Of(records);
        return this;
    }

    public InMemoryDnsResolver Set(string name, DnsAnswer<string> answer)
    {
        _txt[name.TrimEnd('.')] = answer;
        return this;
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _queries);
        return Task.FromResult(_txt.TryGetValue(name, out DnsAnswer<string>? a) ? a : DnsAnswer<string>.NxDomain);
    }

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<IPAddress>.NxDomain);

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<MxRecord>.NxDomain);

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<string>.NxDomain);

    /// <summary>Loads the TXT records of a zone file: $ORIGIN, comments, "( ... )" spanning lines, quoted strings
    /// joined without separator (RFC 6376 3.6.2.2). Enough for the RFC test zones, not a general parser.</summary>
    public InMemoryDnsResolver LoadZone(string zoneText)
    {
        string origin = "";
        var entries = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        var logical = new StringBuilder();
        int depth = 0;
        foreach (string rawLine in zoneText.Split('\n'))
        {
            string line = StripComment(rawLine).TrimEnd('\r');
            depth += line.Count(c => c == '(') - line.Count(c => c == ')');
            logical.Append(line.Replace('(', ' ').Replace(')', ' ')).Append(' ');
            if (depth > 0)
            {
                continue;
            }
            string entry = logical.ToString().Trim();
            logical.Clear();
            if (entry.Length == 0)
            {
                continue;
            }
            if (entry.StartsWith("$ORIGIN", StringComparison.Ordinal))
            {
                origin = entry[7..].Trim().TrimEnd('.');
                continue;
            }
            int txt = entry.IndexOf(" TXT ", StringComparison.OrdinalIgnoreCase);
            if (txt < 0)
            {
                continue;
            }
            string owner = entry.Split(' ', '\t')[0];
            string name = owner.EndsWith('.') ? owner.TrimEnd('.') : owner + "." + origin;
            var value = new StringBuilder();
            string data = entry[(txt + 5)..];
            for (int i = data.IndexOf('"'); i >= 0 && i < data.Length; i = data.IndexOf('"', i + 1))
            {
                int end = data.IndexOf('"', i + 1);
                value.Append(data, i + 1, end - i - 1);
                i = end;
            }
            if (!entries.TryGetValue(name, out List<string>? list))
            {
                entries[name] = list = [];
            }
            list.Add(value.ToString());
        }
        foreach (KeyValuePair<string, List<string>> e in entries)
        {
            AddTxt(e.Key, [.. e.Value]);
        }
        return this;
    }

    /// <summary>The joined TXT record of a name added before.</summary>
    public string Txt(string name) => _txt[name].Records[0];

    private static string StripComment(string line)
    {
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] == '"')
            {
                quoted = !quoted;
            }
            else if (line[i] == ';' && !quoted)
            {
                return line[..i];
            }
        }
        return line;
    }
}
