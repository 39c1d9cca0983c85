using Milter.Protocol.Client;
using Milter.Protocol.Wire;

namespace Milter.Commands.Bench;

/// <summary>What one bench worker saw; merged at the end. Not thread-safe: one per worker.</summary>
internal sealed class BenchTally
{
    public List<double> LatenciesMs { get; } = [];
    public Dictionary<string, int> Verdicts { get; } = new(StringComparer.Ordinal);
    public int Errors { get; private set; }
    public int DkimSignatureInserted { get; private set; }
    public int AuthenticationResultsInserted { get; private set; }
    public string? FirstError { get; private set; }

    public void Error(Exception e)
    {
        Errors++;
        FirstError ??= $"{e.GetType().Name}: {e.Message}";
    }

    public void Completed(TransactionResult result, double latencyMs)
    {
        LatenciesMs.Add(latencyMs);
        var verdict = VerdictName(result.Reply.Code);
        Verdicts[verdict] = Verdicts.GetValueOrDefault(verdict) + 1;
        if (result.Modifications.Any(m => IsHeaderAdd(m, "DKIM-Signature"))) DkimSignatureInserted++;
        if (result.Modifications.Any(m => IsHeaderAdd(m, "Authentication-Results"))) AuthenticationResultsInserted++;
    }

    /// <summary>Adds <paramref name="other"/>'s counts to this one.</summary>
    public void Merge(BenchTally other)
    {
        LatenciesMs.AddRange(other.LatenciesMs);
        foreach (var (k, v) in other.Verdicts) Verdicts[k] = Verdicts.GetValueOrDefault(k) + v;
        Errors += other.Errors;
        DkimSignatureInserted += other.DkimSignatureInserted;
        AuthenticationResultsInserted += other.AuthenticationResultsInserted;
        FirstError ??= other.FirstError;
    }

    public int NonContinue => Verdicts.Where(v => v.Key != "continue").Sum(v => v.Value);

    private static bool IsHeaderAdd(MilterModification m, string name) =>
        m.Kind is MilterResponseCode.InsertHeader or MilterResponseCode.AddHeader
        && string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase);

    public static string VerdictName(MilterResponseCode code) => code switch
    {
        MilterResponseCode.Continue => "continue",
        MilterResponseCode.Accept => "accept",
        MilterResponseCode.Reject => "reject",
        MilterResponseCode.Tempfail => "tempfail",
        MilterResponseCode.Discard => "discard",
        MilterResponseCode.ReplyCode => "replycode",
        MilterResponseCode.Skip => "skip",
        _ => code.ToString().ToLowerInvariant(),
    };
}
