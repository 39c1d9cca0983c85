namespace Milter.MailAuth.Spf;

/// <summary>The results of check_host() (RFC 7208 2.6).</summary>
public enum SpfResultCode
{
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

/// <summary>Which identity was checked (RFC 7208 2.3, 2.4); the Received-SPF "identity" key.</summary>
public enum SpfIdentity
{
    MailFrom,
    Helo,
}

public static class SpfResultCodeExtensions
{
    /// <summary>The result keyword of RFC 8601 2.7.2 / RFC 7208 9.1 ("pass", "softfail", "temperror", ...).</summary>
    public static string ToKeyword(this SpfResultCode code) => code switch
    {
        SpfResultCode.None => "none",
        SpfResultCode.Neutral => "neutral",
        SpfResultCode.Pass => "pass",
        SpfResultCode.Fail => "fail",
        SpfResultCode.SoftFail => "softfail",
        SpfResultCode.TempError => "temperror",
        SpfResultCode.PermError => "permerror",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    /// <summary>Parses a result keyword (case-insensitive); also accepts the RFC 4408 names "error" and "unknown".</summary>
    public static bool TryParseKeyword(string? keyword, out SpfResultCode code)
    {
        switch (keyword?.Trim().ToLowerInvariant())
        {
            case "none": code = SpfResultCode.None; return true;
            case "neutral": code = SpfResultCode.Neutral; return true;
            case "pass": code = SpfResultCode.Pass; return true;
            case "fail": code = SpfResultCode.Fail; return true;
            case "softfail": code = SpfResultCode.SoftFail; return true;
            case "temperror" or "error": code = SpfResultCode.TempError; return true;
            case "permerror" or "unknown": code = SpfResultCode.PermError; return true;
            default: code = SpfResultCode.None; return false;
        }
    }

    /// <summary>The identity keyword used in Received-SPF ("mailfrom", "helo").</summary>
    public static string ToKeyword(this SpfIdentity identity) => identity == SpfIdentity.Helo ? "helo" : "mailfrom";
}
