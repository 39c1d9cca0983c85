using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.TestKit.Dns;
using Milter.TestKit.Peers;
using Milter.TestKit.Postfix;
using Milter.Tests.Fixtures;

namespace Milter.Tests.EndToEnd;

/// <summary>Interop with OpenDKIM (Debian's opendkim) as a real milter in a real Postfix, in both directions.</summary>
public sealed class OpenDkimInteropTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static byte[] Message(string from, string subject) => Encoding.ASCII.GetBytes(
        $"From: {from}\r\nTo: rcpt@example.org\r\nSubject: {subject}\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n" +
        $"Message-ID: <{Guid.NewGuid():N}@lab.example>\r\n\r\nA line  with  spaces \r\n\r\nlast line\r\n");

    private static string Unfolded(byte[] file) =>
        MailText.SinkHeaders(file).Replace("\r\n\t", " ", StringComparison.Ordinal).Replace("\r\n ", " ", StringComparison.Ordinal);

    [Fact]
    public async Task Mail_signed_by_opendkim_in_one_postfix_verifies_in_milter_in_the_next()
    {
        using var rsa = RSA.Create(2048);
        using var dir = new TempDir("opendkim-interop");
        var publicKey = Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo());
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("lab.example").Txt("od._domainkey", $"v=DKIM1; k=rsa; p={publicKey}"));
        await using var opendkim = await OpenDkimDaemon.StartAsync(new OpenDkimOptions
        {
            Domain = "lab.example", Selector = "od", PrivateKeyPem = rsa.ExportRSAPrivateKeyPem(), DnsPort = knot.Port,
        });

        var config = dir.File("milter.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            AuthservId = "mx.verify.test",
            Dns = new { Servers = new[] { $"127.0.0.1:{knot.Port}" } },
            Signing = new { InternalHosts = new[] { "10.0.0.0/8" } }, // loopback counts as outside here
        }));
        var port = FreePort.Next();
        await using var milter = await MilterDaemon.StartAsync(["--config", config, "--listen", $"inet:{port}@127.0.0.1"]);
        await using var receiving = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ inet:127.0.0.1:{port}, default_action=tempfail, command_timeout=10s }}",
        });
        await using var sending = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ {opendkim.PostfixMilterSpec}, default_action=tempfail, command_timeout=10s }}",
            StartSink = false,
            RelayPort = receiving.SmtpdPort,
        });

        var sent = await sending.SendAsync("alice@lab.example", ["rcpt@example.org"], Message("Alice <alice@lab.example>", "via opendkim"));
        Assert.True(sent.Accepted, sent.Transcript);
        var headers = Unfolded(Assert.Single(await receiving.Sink!.WaitForMessagesAsync(1, Wait)));
        Assert.Contains("DKIM-Signature:", headers, StringComparison.Ordinal);
        var ar = headers.Split("\r\n").Single(l => l.StartsWith("Authentication-Results: mx.verify.test;", StringComparison.Ordinal));
        Assert.Contains("dkim=pass header.d=lab.example", ar, StringComparison.Ordinal);
        Assert.Contains("header.s=od header.a=rsa-sha256", ar, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mail_signed_by_milter_verifies_in_opendkim()
    {
        using var dir = new TempDir("opendkim-verify");
        using var key = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
        var keyFile = dir.File("ms.private");
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8Pem());
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using var knot = await KnotDnsServer.StartAsync(new DnsZone("lab.example").Txt("ms._domainkey", key.PublicKeyRecord));
        await using var opendkim = await OpenDkimDaemon.StartAsync(new OpenDkimOptions
        {
            Mode = "v", Domain = "lab.example", Selector = "unused", DnsPort = knot.Port,
            PrivateKeyPem = RSA.Create(2048).ExportRSAPrivateKeyPem(),
            // OpenDKIM skips verification for its InternalHosts (127.0.0.1 by default): the relay is on loopback here.
            ExtraConfig = "AuthservID opendkim.verify.test\nAlwaysAddARHeader yes\nInternalHosts 192.0.2.250",
        });
        await using var receiving = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SmtpdMilters = $"{{ {opendkim.PostfixMilterSpec}, default_action=tempfail, command_timeout=10s }}",
        });

        foreach (var canonicalization in new[] { "relaxed/relaxed", "simple/simple" })
        {
            var config = dir.File($"milter-{canonicalization.Replace('/', '-')}.json");
            await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
            {
                AuthservId = "relay.lab.example",
                Signing = new
                {
                    Keys = new[] { new { Domain = "lab.example", Selector = "ms", KeyFile = keyFile } },
                    InternalHosts = new[] { "127.0.0.0/8" },
                    Canonicalization = canonicalization,
                },
            }));
            var port = FreePort.Next();
            await using var milter = await MilterDaemon.StartAsync(["--config", config, "--listen", $"inet:{port}@127.0.0.1"]);
            await using var sending = await PostfixInstance.StartAsync(new PostfixOptions
            {
                SmtpdMilters = $"{{ inet:127.0.0.1:{port}, default_action=tempfail, command_timeout=10s }}",
                StartSink = false,
                RelayPort = receiving.SmtpdPort,
            });
            var sent = await sending.SendAsync("alice@lab.example", ["rcpt@example.org"], Message("Alice <alice@lab.example>", "to opendkim " + canonicalization));
            Assert.True(sent.Accepted, sent.Transcript);
        }

        var files = await receiving.Sink!.WaitForMessagesAsync(2, Wait);
        foreach (var headers in files.Select(Unfolded))
        {
            var ar = headers.Split("\r\n").SingleOrDefault(l => l.StartsWith("Authentication-Results: opendkim.verify.test;", StringComparison.Ordinal));
            Assert.True(ar is not null, headers + "\n--- opendkim ---\n" + opendkim.Output);
            Assert.Contains("dkim=pass", ar, StringComparison.Ordinal);
            Assert.Contains("header.d=lab.example", ar, StringComparison.Ordinal);
        }
    }
}
