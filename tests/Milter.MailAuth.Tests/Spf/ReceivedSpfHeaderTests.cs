using System.Net;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Spf;

public sealed class ReceivedSpfHeaderTests
{
    [Fact]
    public async Task Pass_header_has_comment_and_key_value_pairs()
    {
        var zone = new ZoneData();
        zone.Add("example.com", new ZoneEntry("TXT", new[] { "v=spf1 ip4:192.0.2.1 -all" }));
        var checker = new SpfChecker(new ZoneDataResolver(zone), new SpfOptions(), TimeProvider.System);
        var result = await checker.CheckMailFromAsync(IPAddress.Parse("192.0.2.1"), "<myname@example.com>", "foo.example.com", default);
        Assert.Equal(
            "pass (mybox.example.org: domain of myname@example.com designates 192.0.2.1 as permitted sender) " +
            "client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; helo=foo.example.com; receiver=mybox.example.org; " +
            "identity=mailfrom; mechanism=\"ip4:192.0.2.1\"",
            ReceivedSpfHeader.Build(result, "mybox.example.org"));
    }

    [Fact]
    public void Permerror_reports_the_problem_and_quotes_values_that_are_not_atoms()
    {
        var result = new SpfResult(SpfResultCode.PermError, "example.com", null, "syntax error in \"a:\" (x)")
        {
            ClientIp = IPAddress.Parse("2001:db8::1"),
            EnvelopeFrom = "",
            Helo = "h.example",
            Sender = "postmaster@h.example",
        };
        Assert.Equal(
            "permerror (mx.example: permanent error in processing domain of postmaster@h.example) " +
            "client-ip=\"2001:db8::1\"; envelope-from=\"\"; helo=h.example; receiver=mx.example; identity=mailfrom; " +
            "problem=\"syntax error in \\\"a:\\\" (x)\"",
            ReceivedSpfHeader.Build(result, "mx.example"));
    }
}
