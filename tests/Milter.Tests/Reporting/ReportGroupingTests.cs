using Milter.Reporting.Aggregate;
using static Milter.Tests.Reporting.AggregateTestData;

namespace Milter.Tests.Reporting;

/// <summary>The reports grouped and counted by the database (<see cref="AggregateReportBuilder.FromStore"/>, what
/// `milter report` runs) against the row-by-row grouping in .NET of the same evaluations read in time order (the oracle),
/// on both stores.</summary>
public sealed class ReportGroupingTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static readonly ReportSubmitter Submitter = new("Receiver Org", "dmarc@receiver.example", "receiver.example");

    public static TheoryData<ReportStoreKind> Stores => [ReportStoreKind.Sqlite, ReportStoreKind.PostgreSql];

    /// <summary>Evaluations that vary in every field a row is made of, with many equal keys, equal times (a tie in time is
    /// broken by the order of storing) and stored out of time order, a policy that changes during the day, some
    /// evaluations outside the day, and a domain without rua=.</summary>
    private static List<DmarcEvaluationRecord> Varied(int count, int seed)
    {
        var random = new Random(seed);
        T Pick<T>(params T[] values) => values[random.Next(values.Length)];
        var evaluations = new List<DmarcEvaluationRecord>();
        for (int i = 0; i < count; i++)
        {
            string domain = Pick("a.example", "b.example", "c.example", "norua.example");
            var policy = domain == "norua.example" ? Policy(domain) : Policy(domain, $"mailto:d{random.Next(3)}@{domain}") with { P = Pick("none", "reject") };
            var time = Day.AddSeconds(Pick(-30, 0, 1, 1, 2, 3, 86_399, 86_400) + random.Next(3) * 7200);
            string ip = Pick("192.0.2.1", "192.0.2.2", "2001:db8::1");
            string from = Pick(domain, "sub." + domain);
            var e = random.Next(2) == 0 ? Pass(ip, time, policy, from) : Fail(ip, time, policy, from);
            e = random.Next(5) switch
            {
                0 => e with { EnvelopeTo = null },
                1 => e with { Spf = null },
                2 => e with { Spf = new DmarcSpfAuth("helo.example", "helo", "none", Pick(null, "no SPF record")) },
                3 => e with { Dkim = [], Reasons = [new DmarcPolicyReason("other", Pick(null, "sampled_out (pct=50)"))] },
                _ => e with { Result = Pick("fail", "temperror"), Disposition = Pick("none", "quarantine") },
            };
            evaluations.Add(e);
        }
        return evaluations;
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task SqlGroupedReports_AreByteForByteTheRowByRowReports(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        using (var db = target.Open())
        {
            // Several batches, so that storing order and time order differ across them too.
            var all = Varied(3000, seed: 19);
            for (int start = 0; start < all.Count; start += 500)
                db.Insert(all.GetRange(start, 500));
        }

        using (var db = target.Open())
        {
            var grouped = AggregateReportBuilder.FromStore(db, Day, Day.AddDays(1), Submitter);
            var oracle = AggregateReportBuilder.Build(db.Query(Day, Day.AddDays(1)).ToList(), Submitter, Day.ToUnixTimeSeconds(),
                Day.AddDays(1).ToUnixTimeSeconds() - 1);

            Assert.Equal(3, grouped.Count);
            Assert.Equal(oracle.Select(r => r.FileName), grouped.Select(r => r.FileName));
            for (int i = 0; i < oracle.Count; i++)
            {
                Assert.Equal(oracle[i].Policy with { Rua = [] }, grouped[i].Policy with { Rua = [] });
                Assert.Equal(oracle[i].Policy.Rua, grouped[i].Policy.Rua);
                Assert.Equal(oracle[i].Rows.Select(r => (RowKey(r.Sample), r.Count)), grouped[i].Rows.Select(r => (RowKey(r.Sample), r.Count)));
                Assert.Equal(AggregateReportXml.ToXml(oracle[i]).ToString(), AggregateReportXml.ToXml(grouped[i]).ToString());
                Assert.Equal(AggregateReportXml.ToGzip(oracle[i]), AggregateReportXml.ToGzip(grouped[i]));
            }
            // Ties on count, source IP and header_from exist, so the order of first evaluation was put to the test.
            Assert.Contains(oracle, r => r.Rows.GroupBy(x => (x.Count, x.Sample.SourceIp, x.Sample.HeaderFrom)).Any(g => g.Count() > 1));
        }
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ManyEqualEvaluations_AreOneRowEach_WithTheirCounts(ReportStoreKind kind)
    {
        using var target = await ReportStoreTarget.CreateAsync(kind, postgres);
        var policy = Policy("example.com", "mailto:d@example.com");
        using (var db = target.Open())
        {
            db.Insert(Enumerable.Range(0, 4000).Select(i => i % 4 == 0
                ? Fail("192.0.2.9", Day.AddSeconds(i % 100), policy)
                : Pass($"192.0.2.{i % 3}", Day.AddSeconds(i % 100), policy)).ToList());
        }

        using (var db = target.Open())
        {
            var report = Assert.Single(AggregateReportBuilder.FromStore(db, Day, Day.AddDays(1), Submitter));
            Assert.Equal(4000, report.MessageCount);
            Assert.Equal([1000, 1000, 1000, 1000], report.Rows.Select(r => r.Count));
            Assert.Equal(["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.9"], report.Rows.Select(r => r.Sample.SourceIp));
            Assert.Equal("fail", report.Rows[3].Sample.Result);
            Assert.Equal(Day, report.Rows[3].Sample.Time);
        }
    }
}
