using System.Text;
using Milter.Commands.Bench;

namespace Milter.Tests.Commands;

/// <summary>The parts of `milter bench` that need no filter: percentiles and how messages become milter input.</summary>
public sealed class BenchPartsTests
{
    [Theory]
    [InlineData(50, 5)]
    [InlineData(95, 10)]
    [InlineData(99, 10)]
    [InlineData(10, 1)]
    [InlineData(11, 2)]
    public void Percentiles_are_nearest_rank(double p, double expected)
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(expected, BenchReport.Percentile(sorted, p));
    }

    [Fact]
    public void No_latencies_give_zero() => Assert.Equal(0, BenchReport.Percentile([], 99));

    [Theory]
    [InlineData(256)]
    [InlineData(2048)]
    [InlineData(100_000)]
    public void Generated_messages_have_the_size_asked_for_within_a_line(int size)
    {
        var messages = BenchMessages.Generate("gen.test", size, 3);
        Assert.Equal(3, messages.Count);
        foreach (var m in messages)
        {
            Assert.InRange(m.Length, size, size + 80);
            Assert.DoesNotContain("\n", Encoding.ASCII.GetString(m).Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        }
        Assert.NotEqual(messages[0], messages[1]);
    }

    [Fact]
    public void Messages_are_split_like_Postfix_passes_them()
    {
        var raw = Encoding.ASCII.GetBytes("From: \"A\" <a@split.test>\r\nSubject: folded\r\n line\r\n\r\nbody\r\n");
        var m = BenchMessages.ToBenchMessage(raw, "fallback.test");
        Assert.Equal("a@split.test", m.Sender);
        Assert.Equal([new("From", " \"A\" <a@split.test>"), new("Subject", " folded\n line")], m.Headers);
        Assert.Equal("body\r\n", Encoding.ASCII.GetString(m.Body.Span));

        var tx = BenchMessages.ToTransaction(m, "00AB");
        Assert.Equal("<a@split.test>", tx.Sender);
        Assert.Equal("00AB", tx.MailMacros!["i"]);
        Assert.False(tx.MailMacros.ContainsKey("{auth_type}")); // unauthenticated, as Postfix sends it
    }

    [Fact]
    public void A_message_without_a_readable_From_uses_the_fallback_sender()
    {
        var m = BenchMessages.ToBenchMessage(Encoding.ASCII.GetBytes("Subject: x\r\n\r\nbody\r\n"), "fallback.test");
        Assert.Equal("bench@fallback.test", m.Sender);
    }
}
