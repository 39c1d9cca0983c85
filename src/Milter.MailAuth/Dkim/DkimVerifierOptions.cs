namespace Milter.MailAuth.Dkim;

/// <summary>What to do with a signature whose l= leaves part of the body unsigned.</summary>
public enum DkimBodyLengthPolicy
{
    /// <summary>Default: report policy ("body length limit leaves N bytes unsigned"), never pass. Content
    /// appended after the signed part is not covered by the signature (RFC 6376 8.2), so counting it as a
    /// pass would let anyone add text under a valid signature.</summary>
    Policy,

    /// <summary>Report pass (with <see cref="DkimVerificationResult.BodyLengthLimited"/> and
    /// <see cref="DkimVerificationResult.UnsignedBodyBytes"/> set), as RFC 6376 6.1.3 permits.</summary>
    Pass,
}

/// <summary>Limits and policy of a <see cref="DkimVerifier"/>. Every size is bounded by default.</summary>
public sealed class DkimVerifierOptions
{
    /// <summary>RSA keys shorter than this give policy (RFC 8301 3.2: at least 1024).</summary>
    public int MinimumKeyBits { get; set; } = 1024;

    /// <summary>Signatures verified per message; later ones are reported neutral "not checked".</summary>
    public int MaxSignatures { get; set; } = 5;

    /// <summary>Signatures reported per message at all (checked or not); the rest are ignored.</summary>
    public int MaxReportedSignatures { get; set; } = 50;

    /// <summary>Tolerance for t= in the future and x= in the past.</summary>
    public TimeSpan ClockDrift { get; set; } = TimeSpan.FromSeconds(300);

    public DkimBodyLengthPolicy BodyLengthPolicy { get; set; } = DkimBodyLengthPolicy.Policy;

    /// <summary>Header fields kept per message; a message with more gives permerror for every signature.</summary>
    public int MaxHeaderCount { get; set; } = 1000;

    /// <summary>Header bytes kept per message (names and values); a bigger header gives permerror.</summary>
    public int MaxHeaderBytes { get; set; } = 256 * 1024;

    /// <summary>Parsed keys kept (entries) and for how long, when the verifier creates its own cache.</summary>
    public int KeyCacheSize { get; set; } = 10_000;

    public TimeSpan KeyCacheTimeToLive { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Told of every key lookup, whether the cache had the key (for metrics); null: nobody is told.</summary>
    public IDkimKeyCacheObserver? KeyCacheObserver { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        Check(MinimumKeyBits is >= 512 and <= DkimKeyRecord.MaxRsaBits, nameof(MinimumKeyBits), "must be 512..8192");
        Check(MaxSignatures is >= 1 and <= 100, nameof(MaxSignatures), "must be 1..100");
        Check(MaxReportedSignatures >= MaxSignatures && MaxReportedSignatures <= 1000, nameof(MaxReportedSignatures),
            "must be MaxSignatures..1000");
        Check(ClockDrift >= TimeSpan.Zero && ClockDrift <= TimeSpan.FromDays(1), nameof(ClockDrift), "must be 0..1 day");
        Check(MaxHeaderCount is >= 10 and <= 100_000, nameof(MaxHeaderCount), "must be 10..100000");
        Check(MaxHeaderBytes is >= 1024 and <= 64 * 1024 * 1024, nameof(MaxHeaderBytes), "must be 1 KiB..64 MiB");
        Check(KeyCacheSize is >= 0 and <= 10_000_000, nameof(KeyCacheSize), "must be 0..10000000");
        Check(KeyCacheTimeToLive >= TimeSpan.Zero, nameof(KeyCacheTimeToLive), "must not be negative");
    }

    private static void Check(bool ok, string name, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"DkimVerifierOptions.{name} {rule}", name);
        }
    }
}
