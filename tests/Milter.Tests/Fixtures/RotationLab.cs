using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Milter.MailAuth.Dkim;
using Milter.Protocol;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;

namespace Milter.Tests.Fixtures;

/// <summary>
/// Key rotation on a <see cref="SigningLab"/> (example.test, RSA selector "rsa"): two Knot servers, both configured as
/// resolvers (Dns:Servers), serving the zone; the config gains Signing:Rotation with short times (seconds) and a data
/// directory of its own for the rotation state. Records are published later by reloading a server's zone.
/// </summary>
public sealed class RotationLab : IAsyncDisposable
{
    private readonly Dictionary<KnotDnsServer, (int Serial, Dictionary<string, string> Records)> _zones = [];

    private RotationLab(SigningLab signing, KnotDnsServer second, string rsaRecord)
    {
        Lab = signing;
        Second = second;
        _zones[signing.Dns] = (1, new() { ["rsa._domainkey"] = rsaRecord });
        _zones[second] = (1, new() { ["rsa._domainkey"] = rsaRecord });
    }

    public SigningLab Lab { get; }
    public KnotDnsServer First => Lab.Dns;
    public KnotDnsServer Second { get; }
    public string ConfigPath => Lab.ConfigPath;
    public string DataDir => Lab.Dir.Sub("data");
    public string StatePath => Path.Combine(DataDir, "key-rotation.json");

    /// <summary>The daemon's environment: the data directory of the config (MilterDaemon would give it one of its own).</summary>
    public Dictionary<string, string> Environment => new() { ["MILTER_Reports__DataDirectory"] = DataDir };

    public static async Task<RotationLab> StartAsync(double publishedForMinutes, double retireAfterDays)
    {
        var signing = await SigningLab.StartAsync(ed25519: false);
        using var rsa = DkimPrivateKey.Load(await File.ReadAllTextAsync(signing.RsaKeyFile)).Key!;
        var record = rsa.PublicKeyRecord;
        var second = await KnotDnsServer.StartAsync(new DnsZone(SigningLab.Domain).Txt("rsa._domainkey", record));
        var lab = new RotationLab(signing, second, record);
        var config = JsonNode.Parse(await File.ReadAllTextAsync(signing.ConfigPath))!.AsObject();
        config["Dns"] = new JsonObject { ["Servers"] = new JsonArray($"127.0.0.1:{signing.Dns.Port}", $"127.0.0.1:{second.Port}") };
        config["Signing"]!["Rotation"] = new JsonObject
        {
            ["PublishedForMinutes"] = publishedForMinutes,
            ["RetireAfterDays"] = retireAfterDays,
            ["CheckIntervalSeconds"] = 1,
        };
        config["Reports"] = new JsonObject { ["DataDirectory"] = lab.DataDir };
        await File.WriteAllTextAsync(signing.ConfigPath, config.ToJsonString());
        return lab;
    }

    /// <summary>Publishes a TXT record (name relative to the zone) on one server: its zone reloaded with a higher serial.</summary>
    public async Task PublishAsync(KnotDnsServer server, string name, string value)
    {
        var (serial, records) = _zones[server];
        records[name] = value;
        _zones[server] = (++serial, records);
        var zone = new DnsZone(SigningLab.Domain)
            .Add("@", "SOA", $"ns.invalid. hostmaster.{SigningLab.Domain}. {serial} 3600 600 86400 300")
            .Ns("@", "ns.invalid.");
        foreach (var (n, v) in records) zone.Txt(n, v);
        await server.ReloadZoneAsync(zone, $"{name}.{SigningLab.Domain}");
    }

    /// <summary>The p= record of a key file `keys rotate` wrote.</summary>
    public static async Task<string> RecordOfAsync(string keyFile)
    {
        using var key = DkimPrivateKey.Load(await File.ReadAllTextAsync(keyFile)).Key!;
        return key.PublicKeyRecord;
    }

    public Task<(int ExitCode, string StdOut, string StdErr)> KeysAsync(params string[] args)
        => MilterDaemon.RunCliAsync(["keys", .. args, "--config", ConfigPath]);

    public async Task<JsonElement> StatusJsonAsync(int expectedCode = 0)
    {
        var (code, stdout, stderr) = await KeysAsync("status", "--json");
        if (code != expectedCode) throw new InvalidOperationException($"keys status: exit {code}, expected {expectedCode}\n{stdout}{stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    public static async Task<MilterClient> ConnectAsync(int port)
    {
        var client = await MilterClient.ConnectAsync(ListenSpec.Parse($"inet:{port}@127.0.0.1"), TimeSpan.FromSeconds(10));
        await client.NegotiateAsync();
        await client.ConnectAsync("client.example.test", ConnectFamily.IPv4, 25000, "127.0.0.1");
        await client.HeloAsync("client.example.test");
        return client;
    }

    /// <summary>Sends one message from an internal client; returns it as the MTA would write it (signature on top) and the s= of its one signature.</summary>
    public static async Task<(byte[] Message, string Selector)> SendAsync(MilterClient client, string subject)
    {
        var headers = new List<KeyValuePair<string, string>>
        {
            new("From", " alice@example.test"), new("To", " bob@example.org"), new("Subject", " " + subject),
        };
        var body = Encoding.ASCII.GetBytes($"Hello, {subject}\r\n");
        var result = await client.SendMessageAsync(new MilterTransaction
        {
            Sender = "<alice@example.test>",
            Recipients = ["<bob@example.org>"],
            Headers = headers,
            Body = body,
            MailMacros = new Dictionary<string, string> { ["i"] = "ROT" + subject.Length },
        });
        var signature = result.Modifications.Single(m => m.Name == "DKIM-Signature").Value!;
        var message = new List<byte>();
        message.AddRange(Encoding.ASCII.GetBytes("DKIM-Signature:" + signature.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n"));
        foreach (var (name, value) in headers) message.AddRange(Encoding.ASCII.GetBytes($"{name}:{value}\r\n"));
        message.AddRange("\r\n"u8.ToArray());
        message.AddRange(body);
        var selector = System.Text.RegularExpressions.Regex.Match(signature, @"\bs=([^;\s]+)").Groups[1].Value;
        return (message.ToArray(), selector);
    }

    /// <summary>dkimpy's verdict on a message, with the keys the first server serves.</summary>
    public async Task<DkimPyVerification> VerifyAsync(byte[] message) => await DkimPy.VerifyAsync(message, First.Port);

    public async ValueTask DisposeAsync()
    {
        await Second.DisposeAsync();
        await Lab.DisposeAsync();
    }
}
