namespace Milter.TestKit.Peers;

/// <summary>One DKIM-Signature as dkimpy judged it (index 0 is the topmost signature).</summary>
public sealed record DkimPySignatureResult(int Index, bool Pass, string? Domain, string? Selector, string? Error);

/// <summary>dkimpy's verdicts on every signature of a message, and its log for failure messages.</summary>
public sealed record DkimPyVerification(IReadOnlyList<DkimPySignatureResult> Signatures, string Output)
{
    /// <summary>True when there is at least one signature and all pass.</summary>
    public bool Pass => Signatures.Count > 0 && Signatures.All(s => s.Pass);
}
