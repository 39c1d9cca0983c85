using System.Net;
using System.Text;
using Milter.MailAuth.Spf;

namespace Milter.MailAuth.Tests.Spf;

/// <summary>Bad records are results, not exceptions; nesting is bounded by the lookup limit.</summary>
public sealed class SpfRobustnessTests
{
    private static readonly string[] Pieces =
    [
        "v=spf1", "V=SPF1", " ", "  ", "+", "-", "~", "?", "all", "a", "mx", "ptr", "ip4:", "ip6:", "include:", "exists:",
        "redirect=", "exp=", "foo=", ":", "/", "//", "=", "%{", "}", "%%", "%_", "%-", "%{d}", "%{ir}", "%{l2r-}", "%{p}",
        "%{c}", "%", ".", "..", "example.com", "a.example.com", "loop.example.com", "192.0.2.1", "::1", "24", "64", "0",
        "999", "\t", "\u00e9", "\0", "\"", "{", "-all",
    ];

    [Fact]
    public async Task Random_records_never_throw()
    {
        var random = new Random(7208);
        var sb = new StringBuilder();
        for (int i = 0; i < 1500; i++)
        {
            sb.Clear().Append(i % 3 == 0 ? "" : "v=spf1 ");
            int n = random.Next(1, 12);
            for (int j = 0; j < n; j++)
                sb.Append(Pieces[random.Next(Pieces.Length)]);
            var zone = new ZoneData();
            zone.Add("example.com", new ZoneEntry("TXT", new[] { sb.ToString() }));
            zone.Add("a.example.com", new ZoneEntry("TXT", new[] { "v=spf1 include:example.com ?all" }));
            zone.Add("a.example.com", new ZoneEntry("A", new[] { "192.0.2.1" }));
            zone.Add("loop.example.com", new ZoneEntry("CNAME", new[] { "loop.example.com" }));
            var checker = new SpfChecker(new ZoneDataResolver(zone), new SpfOptions(), TimeProvider.System);
            var ip = IPAddress.Parse(i % 2 == 0 ? "192.0.2.1" : "2001:db8::1");
            var result = await checker.CheckMailFromAsync(ip, "user@example.com", "helo.example.com", default);
            Assert.True(Enum.IsDefined(result.Code), sb.ToString());
            Assert.NotNull(result.Reason);
        }
    }

    [Theory]
    [InlineData(9, SpfResultCode.Pass)]       // 9 nested includes + the final "a" = 10 DNS terms
    [InlineData(10, SpfResultCode.PermError)] // 11 DNS terms
    public async Task Include_chain_depth_is_bounded_by_the_lookup_limit(int depth, SpfResultCode expected)
    {
        var zone = new ZoneData();
        for (int i = 0; i < depth; i++)
            zone.Add($"d{i}.example.com", new ZoneEntry("TXT", new[] { $"v=spf1 include:d{i + 1}.example.com -all" }));
        zone.Add($"d{depth}.example.com", new ZoneEntry("TXT", new[] { "v=spf1 a -all" }));
        zone.Add($"d{depth}.example.com", new ZoneEntry("A", new[] { "192.0.2.1" }));
        var checker = new SpfChecker(new ZoneDataResolver(zone), new SpfOptions(), TimeProvider.System);
        var result = await checker.CheckHostAsync(IPAddress.Parse("192.0.2.1"), "d0.example.com", "x@d0.example.com", "h.example", default);
        Assert.Equal(expected, result.Code);
    }
}
