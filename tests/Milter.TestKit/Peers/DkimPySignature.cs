namespace Milter.TestKit.Peers;

/// <summary>One signature dkimpy adds to a message (see <see cref="DkimPy.SignBatchAsync"/>).</summary>
/// <param name="Key">a PEM RSA key for rsa-sha256 (or rsa-sha1), or the base64 of the raw 32-byte Ed25519
/// private key for ed25519-sha256 (as dkimpy takes it)</param>
/// <param name="Canonicalization">"header/body", e.g. "relaxed/simple"; "relaxed" alone means "relaxed/simple"</param>
/// <param name="Length">add l= (the body length)</param>
/// <param name="Identity">i=, null for dkimpy's default</param>
/// <param name="Time">signing time (t=) in Unix seconds, null for the real clock</param>
/// <param name="Extra">extra tags inserted just before b= (e.g. x=, or an unknown tag)</param>
/// <param name="Headers">h= names (null: dkimpy's default set, which over-signs From)</param>
public sealed record DkimPySignature(
    string Selector,
    string Domain,
    string Key,
    string Algorithm = "rsa-sha256",
    string Canonicalization = "relaxed/relaxed",
    bool Length = false,
    string? Identity = null,
    long? Time = null,
    IReadOnlyList<(string Tag, string Value)>? Extra = null,
    IReadOnlyList<string>? Headers = null);
