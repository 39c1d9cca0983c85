using System.Text;
using Milter.Protocol;
using Milter.Protocol.Client;
using Milter.Protocol.Server;
using Milter.Protocol.Wire;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.Tests.Fixtures;
using Xunit.Abstractions;

namespace Milter.Tests.Daemon;

/// <summary>Signing behaviour of a real `milter run`, driven through MilterClient (the MTA side).</summary>
public sealed class SigningDaemonTests(ITestOutputHelper output)
{
    private static async Task<MilterClient> ConnectAsync(int port, string clientIp = "127.0.0.1")
    {
        var client = await MilterClient.ConnectAsync(ListenSpec.Parse($"inet:{port}@127.0.0.1"), TimeSpan.FromSeconds(10));
        await client.NegotiateAsync();
        var reply = await client.ConnectAsync("client.example.test", ConnectFamily.IPv4, 25000, clientIp);
        Assert.True(reply.IsContinue, reply.ToString());
        await client.HeloAsync("client.example.test");
        return client;
    }

    private static MilterTransaction Tx(IEnumerable<KeyValuePair<string, string>> headers, string body = "Hello\r\n") => new()
    {
        Sender = "<alice@example.test>",
        Recipients = ["<bob@example.org>"],
        Headers = headers.ToList(),
        Body = Encoding.ASCII.GetBytes(body),
        MailMacros = new Dictionary<string, string> { ["i"] = "ABC123" },
    };

    private static KeyValuePair<string, string> H(string name, string value) => new(name, " " + value);

    private static int Inserted(TransactionResult r, string name)
        => r.Modifications.Count(m => m.Kind == MilterResponseCode.InsertHeader && m.Name == name);

    [Fact]
    public async Task The_daemon_asks_for_no_reply_at_every_stage_but_end_of_message_and_still_signs()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var client = await MilterClient.ConnectAsync(ListenSpec.Parse($"inet:{port}@127.0.0.1"), TimeSpan.FromSeconds(10));
        var negotiated = await client.NegotiateAsync();
        // Each reply the MTA waits for is a round trip per message: only end of message needs one (SPF
        // enforcement, off here, adds RCPT).
        foreach (var flag in new[] { MilterProtocolFlags.NoReplyConnect, MilterProtocolFlags.NoReplyHelo, MilterProtocolFlags.NoReplyMail,
                     MilterProtocolFlags.NoReplyHeader, MilterProtocolFlags.NoReplyEoh, MilterProtocolFlags.NoReplyBody,
                     MilterProtocolFlags.NoRcpt, MilterProtocolFlags.NoData })
        {
            Assert.True(negotiated.Has(flag), $"{flag} not negotiated: {negotiated.ProtocolFlags}");
        }
        await client.ConnectAsync("client.example.test", ConnectFamily.IPv4, 25000, "127.0.0.1");
        await client.HeloAsync("client.example.test");
        var result = await client.SendMessageAsync(Tx([H("From", "Alice <alice@example.test>"), H("Subject", "ok")]));
        Assert.Equal(MilterResponseCode.Continue, result.Reply.Code);
        Assert.Equal(1, Inserted(result, "DKIM-Signature"));
    }

    [Fact]
    public async Task A_message_that_must_be_signed_but_cannot_be_is_tempfailed_never_passed_unsigned()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var client = await ConnectAsync(port);
        // More header fields than the filter keeps: the signature could not cover what the receiver sees.
        var headers = new List<KeyValuePair<string, string>> { H("From", "alice@example.test") };
        headers.AddRange(Enumerable.Range(0, 1001).Select(i => H("X-Filler", i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        var result = await client.SendMessageAsync(Tx(headers));
        Assert.Equal(MilterResponseCode.Tempfail, result.Reply.Code);
        Assert.Empty(result.Modifications);
        Assert.True(await daemon.WaitForOutputAsync("verdict=tempfail", TimeSpan.FromSeconds(10)), daemon.Output);
        Assert.Contains("cannot sign", daemon.Output, StringComparison.Ordinal);

        // The connection survives: the next message is signed.
        var next = await client.SendMessageAsync(Tx([H("From", "alice@example.test"), H("Subject", "next")]));
        Assert.Equal(1, Inserted(next, "DKIM-Signature"));
    }

    [Fact]
    public async Task A_key_file_readable_by_others_stops_startup_naming_the_file_unless_allowed()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        File.SetUnixFileMode(lab.RsaKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var (code, stdout, stderr) = await MilterDaemon.RunCliAsync(["run", "--config", lab.ConfigPath]);
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(lab.RsaKeyFile, line, StringComparison.Ordinal);
        Assert.Contains("chmod 600", line, StringComparison.Ordinal);
        Assert.Contains("AllowGroupReadableKeys", line, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", stdout + stderr, StringComparison.Ordinal);

        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"],
            new Dictionary<string, string> { ["MILTER_Signing__AllowGroupReadableKeys"] = "true" });
        Assert.Contains("1 signing key(s)", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_key_file_stops_startup_with_one_line_and_no_key_material()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        await File.WriteAllTextAsync(lab.RsaKeyFile, "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n");
        var (code, _, stderr) = await MilterDaemon.RunCliAsync(["run", "--config", lab.ConfigPath]);
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(lab.RsaKeyFile, line, StringComparison.Ordinal);
        Assert.DoesNotContain("not base64 at all", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sighup_reloads_keys_without_dropping_a_session_and_a_bad_reload_keeps_the_old_config()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var client = await ConnectAsync(port);
        var before = await client.SendMessageAsync(Tx([H("From", "alice@example.test"), H("Subject", "before")]));
        Assert.Equal(1, Inserted(before, "DKIM-Signature"));

        // Add the Ed25519 key to the config and reload: the same connection now gets two signatures.
        var config = await File.ReadAllTextAsync(lab.ConfigPath);
        var edKey = $"{{\"Domain\":\"example.test\",\"Selector\":\"ed\",\"KeyFile\":\"{lab.EdKeyFile}\"}}";
        await File.WriteAllTextAsync(lab.ConfigPath, config.Replace("\"Keys\":[", "\"Keys\":[" + edKey + ",", StringComparison.Ordinal));
        Assert.True(UnixProcess.Signal(daemon.Pid, 1));
        Assert.True(await daemon.WaitForOutputAsync("reload: config and 2 signing key(s) loaded", TimeSpan.FromSeconds(15)), daemon.Output);
        var after = await client.SendMessageAsync(Tx([H("From", "alice@example.test"), H("Subject", "after")]));
        Assert.Equal(2, Inserted(after, "DKIM-Signature"));

        // A broken config on reload: logged, old config kept.
        await File.WriteAllTextAsync(lab.ConfigPath, "{ \"Server\": { \"MaxConnections\": 0 } }");
        Assert.True(UnixProcess.Signal(daemon.Pid, 1));
        Assert.True(await daemon.WaitForOutputAsync("reload failed, keeping the running config", TimeSpan.FromSeconds(15)), daemon.Output);
        var still = await client.SendMessageAsync(Tx([H("From", "alice@example.test"), H("Subject", "still")]));
        Assert.Equal(2, Inserted(still, "DKIM-Signature"));
        Assert.False(daemon.HasExited);
    }

    [Fact]
    public async Task Signing_a_50_MB_message_streams_it_rss_grows_by_less_than_16_MB_and_dkimpy_verifies()
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var client = await ConnectAsync(port);
        var headers = new List<KeyValuePair<string, string>> { H("From", "alice@example.test"), H("To", "bob@example.org"), H("Subject", "big") };
        // Warm up (JIT, pools), then take the baseline.
        await client.SendMessageAsync(Tx(headers, new string('w', 1 << 20) + "\r\n"));
        await Task.Delay(500);
        var baseline = ReadKb(daemon.Pid, "VmRSS");

        var line = Encoding.ASCII.GetBytes(new string('x', 998) + "\r\n");
        var body = new byte[50 * 1024 * 1024];
        for (var i = 0; i + line.Length <= body.Length; i += line.Length) line.CopyTo(body, i);
        var result = await client.SendMessageAsync(Tx(headers) with { Body = body });
        var sig = Assert.Single(result.Modifications, m => m.Name == "DKIM-Signature");
        var peak = ReadKb(daemon.Pid, "VmHWM");
        output.WriteLine($"50 MB message: RSS baseline {baseline / 1024.0:F1} MB, peak {peak / 1024.0:F1} MB, growth {(peak - baseline) / 1024.0:F1} MB");
        Assert.True(peak - baseline < 16 * 1024, $"RSS grew by {(peak - baseline) / 1024} MB (baseline {baseline / 1024} MB, peak {peak / 1024} MB)");

        // The signature is right: dkimpy verifies the message as the MTA would write it.
        var message = new List<byte>();
        message.AddRange(Encoding.ASCII.GetBytes("DKIM-Signature:" + sig.Value!.Replace("\n", "\r\n", StringComparison.Ordinal) + "\r\n"));
        foreach (var (name, value) in headers) message.AddRange(Encoding.ASCII.GetBytes($"{name}:{value}\r\n"));
        message.AddRange("\r\n"u8.ToArray());
        message.AddRange(body);
        var verification = await DkimPy.VerifyAsync(message.ToArray(), lab.Dns.Port);
        Assert.True(verification.Pass, verification.Output);
    }

    private static long ReadKb(int pid, string field)
    {
        foreach (var l in File.ReadAllLines($"/proc/{pid}/status"))
        {
            if (l.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(l[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"{field} not in /proc/{pid}/status");
    }
}
