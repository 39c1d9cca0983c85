namespace Milter.MailAuth.Dkim;

/// <summary>
/// The result of one DKIM signature in RFC 8601 section 2.7.1 words. How this verifier maps problems to words:
/// <list type="bullet">
/// <item><b>pass</b>: body hash and signature verified with an acceptable key.</item>
/// <item><b>fail</b>: the body hash or the signature did not verify with a usable key (the message was changed, or
/// the key is wrong).</item>
/// <item><b>neutral</b>: the DKIM-Signature could not be processed: tag-list syntax errors, a missing required
/// tag, bad base64, an unknown version, algorithm, canonicalization or query method (RFC 8601: "the
/// signature ... contained syntax errors or were not otherwise able to be processed"); also signatures beyond
/// <see cref="DkimVerifierOptions.MaxSignatures"/>, which are reported as not checked.</item>
/// <item><b>policy</b>: the signature may be cryptographically fine but is not acceptable here: rsa-sha1
/// (RFC 8301 3.1: "MUST NOT be used for ... verifying"), an RSA key shorter than
/// <see cref="DkimVerifierOptions.MinimumKeyBits"/> (RFC 8301 3.2), or an l= body length that leaves
/// unsigned content after the signed part (unless <see cref="DkimVerifierOptions.BodyLengthPolicy"/> says
/// otherwise).</item>
/// <item><b>permerror</b>: an unrecoverable problem a later attempt will not fix (RFC 6376 6.1.1 / 6.1.2
/// PERMFAIL cases): From not in h=, i= outside d=, i= not valid dkim-quoted-printable (RFC 6376 2.11), x= not after t=, signature expired, timestamp in the
/// future, no key record (NXDOMAIN / no TXT), several key records, a malformed key record, a revoked key
/// (empty p=), a key of the wrong type, hash or service, t=s with a subdomain i=, a key over 8192 bits.</item>
/// <item><b>temperror</b>: the key lookup timed out or the DNS server failed.</item>
/// </list>
/// <para>The order of the checks, which decides the result when a signature has several problems, is RFC 6376's:
/// (1) the signature field (6.1.1: syntax, From in h=, i= within d=, rsa-sha1, t= and x=), with no DNS query;
/// (2) the key (6.1.2: lookup, record syntax, revocation, key type, h= and s= of the record, t=s, minimum size);
/// (3) the body hash (6.1.3 step 3), then (4) the signature over the header fields (6.1.3 step 4). The body
/// hash is computed while the body streams in and compared before the key is fetched, but a mismatch is reported
/// only after step 2: an altered body with a missing or unusable key is the key's permerror (or policy), with
/// "(and the body hash did not verify)" added to the reason, and temperror when the key lookup got no answer
/// (6.1.2 step 2), although a later attempt cannot pass either. Only with a usable key is it
/// fail (body hash did not verify). Keys come through the <see cref="DkimKeyCache"/>, so altered mail from one
/// signer costs one query; a valid message does the same work as before (one key fetch, one signature check).</para>
/// A message without signatures gives no results at all; the caller reports dkim=none.
/// </summary>
public enum DkimResult
{
    None,
    Pass,
    Fail,
    Neutral,
    Policy,
    TempError,
    PermError,
}

/// <summary>Conversion of <see cref="DkimResult"/> to the RFC 8601 result keyword.</summary>
public static class DkimResultNames
{
    public static string ToKeyword(this DkimResult result) => result switch
    {
        DkimResult.Pass => "pass",
        DkimResult.Fail => "fail",
        DkimResult.Neutral => "neutral",
        DkimResult.Policy => "policy",
        DkimResult.TempError => "temperror",
        DkimResult.PermError => "permerror",
        _ => "none",
    };
}

/// <summary>The outcome for one DKIM-Signature field of a message.</summary>
/// <param name="Result">RFC 8601 result</param>
/// <param name="Reason">why it is not a pass (null for a pass)</param>
/// <param name="Domain">d= (empty when the signature had none)</param>
/// <param name="Selector">s= (empty when the signature had none)</param>
/// <param name="Algorithm">a= as written, lower-cased (empty when absent)</param>
/// <param name="HeaderI">i= decoded from dkim-quoted-printable, or "@" + d= (header.i)</param>
/// <param name="HeaderB">the first 8 characters of b= without whitespace (header.b, RFC 6008)</param>
/// <param name="Testing">the key record has t=y (RFC 6376 3.6.1: the signer is testing DKIM)</param>
/// <param name="BodyLengthLimited">the signature has an l= tag</param>
/// <param name="UnsignedBodyBytes">canonical body bytes after the l= limit (not covered by the signature)</param>
/// <param name="KeyBits">size of the public key in bits, 0 when no key was used</param>
public sealed record DkimVerificationResult(
    DkimResult Result,
    string? Reason,
    string Domain,
    string Selector,
    string Algorithm,
    string HeaderI,
    string HeaderB,
    bool Testing = false,
    bool BodyLengthLimited = false,
    long UnsignedBodyBytes = 0,
    int KeyBits = 0)
{
    public bool IsPass => Result == DkimResult.Pass;

    /// <summary>The RFC 8601 keyword of <see cref="Result"/>.</summary>
    public string ResultKeyword => Result.ToKeyword();
}
