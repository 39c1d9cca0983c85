using System.Globalization;
using Milter.TestKit;
using Milter.TestKit.Peers;
using Milter.Tests.Fixtures;

namespace Milter.Tests.Daemon;

/// <summary>miltertest (libmilter's MTA side, an independent implementation) drives a real `milter run`.</summary>
public sealed class MiltertestDaemonTests
{
    private const string Script = """
        step("connect")
        local conn = mt.connect("inet:" .. PORT .. "@127.0.0.1", 20, 0.25)
        if conn == nil then error("no milter at port " .. PORT) end
        if mt.conninfo(conn, "client.example.test", CLIENT) ~= nil then error("conninfo failed") end
        if mt.getreply(conn) ~= SMFIR_CONTINUE then error("conninfo reply") end
        step("helo")
        if mt.helo(conn, "client.example.test") ~= nil then error("helo failed") end
        step("mail")
        mt.macro(conn, SMFIC_MAIL, "i", "MT0001")
        if mt.mailfrom(conn, "<alice@example.test>") ~= nil then error("mailfrom failed") end
        if mt.getreply(conn) ~= SMFIR_CONTINUE then error("mailfrom reply") end
        step("rcpt")
        -- The filter declines RCPT (SMFIP_NORCPT) unless SPF enforcement is on: do not send it then.
        if not mt.test_option(conn, SMFIP_NORCPT) then
          if mt.rcptto(conn, "<bob@example.org>") ~= nil then error("rcptto failed") end
        end
        step("headers")
        if mt.header(conn, "From", "Alice <alice@example.test>") ~= nil then error("header From") end
        if mt.header(conn, "To", "bob@example.org") ~= nil then error("header To") end
        if mt.header(conn, "Subject", "miltertest") ~= nil then error("header Subject") end
        if mt.header(conn, "Authentication-Results", "relay.lab.test; dkim=pass header.d=forged.example") ~= nil then error("header A-R") end
        if mt.eoh(conn) ~= nil then error("eoh failed") end
        step("body")
        if mt.bodystring(conn, "Hello from miltertest\r\n") ~= nil then error("body failed") end
        step("eom")
        if mt.eom(conn) ~= nil then error("eom failed") end
        if mt.getreply(conn) ~= SMFIR_CONTINUE then error("eom reply") end
        if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then error("no Authentication-Results inserted") end
        if EXPECT_SIGNATURE == "yes" then
          if not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then error("no DKIM-Signature inserted") end
        else
          if mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then error("unexpected DKIM-Signature") end
        end
        if not mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results") then error("forged Authentication-Results not removed") end
        mt.disconnect(conn)
        print("OK")
        """;

    [Theory]
    [InlineData("127.0.0.1", "yes")]
    [InlineData("192.0.2.77", "no")]
    public async Task Miltertest_sends_a_message_and_sees_the_signature_and_authentication_results(string client, string expectSignature)
    {
        await using var lab = await SigningLab.StartAsync(ed25519: false, internalHosts: ["127.0.0.1"]);
        var port = FreePort.Next();
        await using var daemon = await MilterDaemon.StartAsync(["--config", lab.ConfigPath, "--listen", $"inet:{port}@127.0.0.1"]);
        var result = await Miltertest.RunAsync(Script, TimeSpan.FromSeconds(60), new Dictionary<string, string>
        {
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["CLIENT"] = client,
            ["EXPECT_SIGNATURE"] = expectSignature,
        });
        Assert.True(result.Succeeded, result.Describe() + "\n--- milter ---\n" + daemon.Output);
        Assert.Contains("OK", result.StdOut, StringComparison.Ordinal);
        Assert.True(await daemon.WaitForOutputAsync("queue=MT0001", TimeSpan.FromSeconds(10)), daemon.Output);
    }
}
