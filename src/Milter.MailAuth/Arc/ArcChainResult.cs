namespace Milter.MailAuth.Arc;

/// <summary>Chain Validation Status (RFC 8617 4.4).</summary>
public enum ArcResult
{
    None,
    Pass,
    Fail,
}

/// <summary>One ARC set of a chain that passed its structural checks: what a receiver may look at (RFC 8617 7.2).</summary>
/// <param name="Instance">i=</param>
/// <param name="SealDomain">d= of the ARC-Seal (the sealer)</param>
/// <param name="SignatureDomain">d= of the ARC-Message-Signature</param>
/// <param name="AuthenticationResults">the AAR payload: authserv-id and results, as written</param>
public sealed record ArcSet(int Instance, string SealDomain, string SignatureDomain, string AuthenticationResults);

/// <summary>
/// The outcome of ARC validation (RFC 8617 5.2) of one message.
/// </summary>
/// <param name="Result">none, pass or fail</param>
/// <param name="Reason">why the chain failed (null for none and pass)</param>
/// <param name="Instances">N, the highest instance found (0 when there is no chain or none could be read)</param>
/// <param name="OldestPass">header.oldest-pass (RFC 8617 5.2 step 5, 10.2): the instance of the oldest AMS that still
/// validates, or 0 when they all do; only meaningful for a passing chain</param>
/// <param name="Sets">the sets in increasing instance order (empty unless the structure was sound)</param>
public sealed record ArcChainResult(ArcResult Result, string? Reason, int Instances, int OldestPass, IReadOnlyList<ArcSet> Sets)
{
    public static readonly ArcChainResult NoChain = new(ArcResult.None, null, 0, 0, []);

    /// <summary>The sealers' domains (AS d=), oldest first.</summary>
    public IReadOnlyList<string> Sealers => Sets.Select(s => s.SealDomain).ToList();

    /// <summary>"none", "pass" or "fail" (the cv= and A-R vocabulary).</summary>
    public string Keyword => Result switch
    {
        ArcResult.Pass => "pass",
        ArcResult.Fail => "fail",
        _ => "none",
    };

    internal static ArcChainResult Fail(string reason, int instances = 0) => new(ArcResult.Fail, reason, instances, 0, []);
}
