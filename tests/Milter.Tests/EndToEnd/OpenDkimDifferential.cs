using System.Net;
using System.Text;
using Milter.MailAuth.Dkim;
using Milter.Protocol;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;
using Milter.Tests.Configuration.OpenDkim;
using Milter.Tests.Fixtures;

namespace Milter.Tests.EndToEnd;

/// <summary>One message of the differential corpus: the SMTP client as the MTA reports it and the From address.</summary>
internal sealed record DifferentialMessage(string ClientIp, string ClientName, bool Authenticated, string From, int Number);

/// <summary>
/// Runs Debian's OpenDKIM and milter on the very same OpenDKIM files (milter with `run --opendkim-config`, only the
/// socket given on the command line) and sends both the same messages over the milter protocol, as Postfix would
/// (connect with the client address and name, HELO, MAIL with {auth_type} when authenticated, headers, body, end of
/// message). Per message it compares the set of DKIM signatures by d=, s=, a= and c=; every signature is then
/// verified by dkimpy with the published keys.
/// </summary>
internal static class OpenDkimDifferential
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>The corpus: every From address with every client in turn, <paramref name="count"/> messages.</summary>
    public static IReadOnlyList<DifferentialMessage> Corpus(int count, IReadOnlyList<string> froms, IReadOnlyList<(string Ip, string Name)> clients)
        => Enumerable.Range(0, count).Select(i =>
        {
            var client = clients[i / froms.Count % clients.Count];
            // Every seventh message from an outside client is authenticated (SASL): signed like internal mail.
            return new DifferentialMessage(client.Ip, client.Name, i % 7 == 3, froms[i % froms.Count], i);
        }).ToList();

    public static byte[] MessageBytes(DifferentialMessage m)
    {
        var body = new StringBuilder();
        for (var line = 0; line < 1 + m.Number % 5; line++) body.Append($"Line {line} of message {m.Number}  with  spaces \r\n");
        if (m.Number % 3 == 0) body.Append("\r\n\r\n");
        return Encoding.ASCII.GetBytes(
            $"From: Sender {m.Number} <{m.From}>\r\nTo: rcpt@example.net\r\nSubject: differential {m.Number}\r\n" +
            $"Date: Fri, 04 Dec 2026 10:{m.Number % 60:00}:00 +0000\r\nMessage-ID: <{m.Number}.diff@lab.example>\r\n" +
            (m.Number % 4 == 0 ? "X-Folded: first part\r\n\tsecond part\r\n" : "") + "\r\n" + body);
    }

    public sealed record Outcome(string Reply, IReadOnlyList<string> Signatures, byte[] Signed);

    /// <summary>Starts both milters on the files (the conf must have "Socket inet:{opendkimPort}@127.0.0.1"), sends the corpus,
    /// returns the comparison failures (empty when identical) and the outcomes of both, message by message.</summary>
    public static async Task<(List<string> Differences, List<Outcome> OpenDkim, List<Outcome> Milter)> RunAsync(
        OpenDkimFiles files, int openDkimPort, IReadOnlyList<DifferentialMessage> corpus)
    {
        ProcessRunner.Require(OpenDkimDaemon.OpenDkimPath, "opendkim");
        await using var opendkim = BackgroundProcess.Start(OpenDkimDaemon.OpenDkimPath, ["-f", "-x", files.Conf]);
        var odEndPoint = new IPEndPoint(IPAddress.Loopback, openDkimPort);
        if (!await PortProbe.WaitForTcpAsync(odEndPoint, TimeSpan.FromSeconds(15), () => opendkim.HasExited))
            throw new InvalidOperationException($"opendkim did not start on the files:\n{opendkim.Output}\n{File.ReadAllText(files.Conf)}");
        var milterPort = FreePort.Next();
        await using var milter = await MilterDaemon.StartAsync(["--opendkim-config", files.Conf, "--listen", $"inet:{milterPort}@127.0.0.1"]);

        var od = new List<Outcome>();
        var ours = new List<Outcome>();
        foreach (var m in corpus)
        {
            od.Add(await SendAsync($"inet:{openDkimPort}@127.0.0.1", m));
            ours.Add(await SendAsync($"inet:{milterPort}@127.0.0.1", m));
        }
        var differences = new List<string>();
        for (var i = 0; i < corpus.Count; i++)
        {
            // At end of message ACCEPT and CONTINUE mean the same to the MTA.
            var a = $"{od[i].Reply} [{string.Join(" | ", od[i].Signatures)}]";
            var b = $"{ours[i].Reply} [{string.Join(" | ", ours[i].Signatures)}]";
            if (a != b)
                differences.Add($"message {i} From {corpus[i].From} client {corpus[i].ClientName}[{corpus[i].ClientIp}]{(corpus[i].Authenticated ? " auth" : "")}: opendkim {a}, milter {b}");
        }
        return (differences, od, ours);
    }

    private static async Task<Outcome> SendAsync(string spec, DifferentialMessage m)
    {
        await using var client = await MilterClient.ConnectAsync(ListenSpec.Parse(spec), Timeout);
        await client.NegotiateAsync();
        var connectMacros = new Dictionary<string, string> { ["j"] = "mx.lab.example", ["{daemon_name}"] = "smtpd" };
        var family = m.ClientIp.Contains(':', StringComparison.Ordinal) ? ConnectFamily.IPv6 : ConnectFamily.IPv4;
        var reply = await client.ConnectAsync(m.ClientName, family, 4025, m.ClientIp, connectMacros);
        if (!reply.IsContinue) return new Outcome("connect:" + reply.Code, [], []);
        await client.HeloAsync("client.lab.example");
        var mailMacros = new Dictionary<string, string> { ["i"] = $"Q{m.Number}" };
        if (m.Authenticated)
        {
            mailMacros["{auth_type}"] = "PLAIN";
            mailMacros["{auth_authen}"] = "user";
        }
        var bytes = MessageBytes(m);
        var text = Encoding.ASCII.GetString(bytes);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var field in text[..split].Replace("\r\n\t", "\n\t", StringComparison.Ordinal).Split("\r\n"))
        {
            var colon = field.IndexOf(':', StringComparison.Ordinal);
            headers.Add(new(field[..colon], field[(colon + 1)..]));
        }
        var result = await client.SendMessageAsync(new MilterTransaction
        {
            Sender = $"<{m.From}>", Recipients = ["<rcpt@example.net>"], Headers = headers,
            Body = bytes.AsMemory(split + 4), MailMacros = mailMacros, EndOfMessageMacros = new Dictionary<string, string> { ["i"] = $"Q{m.Number}" },
        });
        await client.QuitAsync();
        var signatures = result.Modifications
            .Where(x => x.Kind is MilterResponseCode.InsertHeader or MilterResponseCode.AddHeader && string.Equals(x.Name, "DKIM-Signature", StringComparison.OrdinalIgnoreCase))
            .Select(x => x.Value ?? "").ToList();
        var signed = new StringBuilder();
        foreach (var s in signatures) signed.Append("DKIM-Signature:").Append(s.StartsWith(' ') || s.StartsWith('\t') ? "" : " ").Append(s.ReplaceLineEndings("\r\n")).Append("\r\n");
        signed.Append(text);
        var code = result.Reply.Code is MilterResponseCode.Accept or MilterResponseCode.Continue ? "ok" : result.Reply.Code.ToString();
        return new Outcome(code, signatures.Select(Tags).Order(StringComparer.Ordinal).ToList(), Encoding.ASCII.GetBytes(signed.ToString()));
    }

    /// <summary>"d=… s=… a=… c=…" of a DKIM-Signature value; c= absent is simple/simple, a lone c= value has a simple body (RFC 6376 3.5).</summary>
    public static string Tags(string value)
    {
        var tags = value.Split(';').Select(t => t.Split('=', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => string.Concat(p[0].Where(c => !char.IsWhiteSpace(c))), p => string.Concat(p[1].Where(c => !char.IsWhiteSpace(c))));
        var c = tags.GetValueOrDefault("c", "simple/simple");
        if (!c.Contains('/', StringComparison.Ordinal)) c += "/simple";
        return $"d={tags.GetValueOrDefault("d")} s={tags.GetValueOrDefault("s")} a={tags.GetValueOrDefault("a")} c={c}";
    }

    /// <summary>dkimpy's verdict on every signature of every signed message; <paramref name="records"/> maps
    /// "selector._domainkey.domain" to the published TXT record. Returns the failures.</summary>
    public static async Task<List<string>> VerifyAllAsync(IEnumerable<Outcome> outcomes, IReadOnlyDictionary<string, string> records, string who)
    {
        var signed = outcomes.Select((o, i) => (o, i)).Where(x => x.o.Signatures.Count > 0).ToList();
        if (signed.Count == 0) return [];
        var verdicts = await DkimPy.VerifyBatchAsync(signed.Select(x => (x.o.Signed, records)).ToList());
        var failures = new List<string>();
        for (var i = 0; i < signed.Count; i++)
        {
            if (!verdicts[i].Pass || verdicts[i].Signatures.Count != signed[i].o.Signatures.Count)
                failures.Add($"{who} message {signed[i].i}: dkimpy {string.Join("; ", verdicts[i].Signatures.Select(s => $"{s.Domain}/{s.Selector} pass={s.Pass} {s.Error}"))}");
        }
        return failures;
    }

    /// <summary>The key records dkimpy needs for the signatures seen: "s._domainkey.d" of each signature, the key found by
    /// its selector (selectors are unique within a setup).</summary>
    public static Dictionary<string, string> Records(IEnumerable<Outcome> outcomes, IReadOnlyDictionary<string, string> keyFileBySelector)
    {
        var records = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var tags in outcomes.SelectMany(o => o.Signatures))
        {
            var parts = tags.Split(' ').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            if (keyFileBySelector.TryGetValue(parts["s"], out var file))
                records[$"{parts["s"]}._domainkey.{parts["d"]}"] = Record(file);
        }
        return records;
    }

    /// <summary>The TXT record of a key file, for dkimpy.</summary>
    public static string Record(string keyFile)
    {
        using var key = DkimPrivateKey.Load(File.ReadAllText(keyFile)).Key!;
        return key.PublicKeyRecord;
    }
}
