using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Milter.Commands.Bench;

/// <summary>The figures of one bench run, printed as text or as one camelCase JSON object.</summary>
internal sealed class BenchReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public BenchReport(BenchOptions options, BenchRunner.Outcome outcome)
    {
        Options = options;
        Tally = outcome.Tally;
        ElapsedSeconds = outcome.Elapsed.TotalSeconds;
        var sorted = Tally.LatenciesMs.Order().ToArray();
        P50 = Percentile(sorted, 50);
        P95 = Percentile(sorted, 95);
        P99 = Percentile(sorted, 99);
        Max = sorted.Length == 0 ? 0 : sorted[^1];
        Mean = sorted.Length == 0 ? 0 : sorted.Average();
        MessagesPerSecond = ElapsedSeconds > 0 ? sorted.Length / ElapsedSeconds : 0;
    }

    public BenchOptions Options { get; }
    public BenchTally Tally { get; }
    public double ElapsedSeconds { get; }
    public double MessagesPerSecond { get; }
    public double P50 { get; }
    public double P95 { get; }
    public double P99 { get; }
    public double Max { get; }
    public double Mean { get; }

    /// <summary>Nearest-rank percentile of an ascending array (0 when empty).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0) return 0;
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    public string ToText()
    {
        var o = Options;
        var t = Tally;
        var sb = new StringBuilder();
        sb.Append(Inv, $"bench: {Mode} mode, {o.Messages} messages of {o.Size} bytes, concurrency {o.Concurrency}, {o.Connect}\n");
        sb.Append(Inv, $"  completed    {t.LatenciesMs.Count} in {ElapsedSeconds:F2} s\n");
        sb.Append(Inv, $"  throughput   {MessagesPerSecond:F1} messages/s\n");
        sb.Append(Inv, $"  latency ms   p50 {P50:F3}  p95 {P95:F3}  p99 {P99:F3}  max {Max:F3}  mean {Mean:F3}\n");
        sb.Append(Inv, $"  errors       {t.Errors}{(t.FirstError is null ? "" : " (first: " + t.FirstError + ")")}\n");
        var verdicts = string.Join(", ", t.Verdicts.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key} {v.Value}"));
        sb.Append(Inv, $"  verdicts     {(verdicts.Length == 0 ? "-" : verdicts)} (non-continue {t.NonContinue})\n");
        sb.Append(Inv, $"  modified     DKIM-Signature added to {t.DkimSignatureInserted}, Authentication-Results added to {t.AuthenticationResultsInserted}\n");
        return sb.ToString();
    }

    private string Mode => Options.Mode == BenchMode.Sign ? "sign" : "verify";

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("mode", Mode);
            w.WriteString("connect", Options.Connect.ToString());
            w.WriteNumber("messages", Options.Messages);
            w.WriteNumber("concurrency", Options.Concurrency);
            w.WriteNumber("size", Options.Size);
            w.WriteNumber("completed", Tally.LatenciesMs.Count);
            w.WriteNumber("elapsedSeconds", Math.Round(ElapsedSeconds, 4));
            w.WriteNumber("messagesPerSecond", Math.Round(MessagesPerSecond, 1));
            w.WriteStartObject("latencyMs");
            w.WriteNumber("p50", Math.Round(P50, 3));
            w.WriteNumber("p95", Math.Round(P95, 3));
            w.WriteNumber("p99", Math.Round(P99, 3));
            w.WriteNumber("max", Math.Round(Max, 3));
            w.WriteNumber("mean", Math.Round(Mean, 3));
            w.WriteEndObject();
            w.WriteNumber("errors", Tally.Errors);
            if (Tally.FirstError is not null) w.WriteString("firstError", Tally.FirstError);
            w.WriteNumber("nonContinue", Tally.NonContinue);
            w.WriteStartObject("verdicts");
            foreach (var (k, v) in Tally.Verdicts.OrderBy(v => v.Key, StringComparer.Ordinal)) w.WriteNumber(k, v);
            w.WriteEndObject();
            w.WriteNumber("dkimSignatureInserted", Tally.DkimSignatureInserted);
            w.WriteNumber("authenticationResultsInserted", Tally.AuthenticationResultsInserted);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
