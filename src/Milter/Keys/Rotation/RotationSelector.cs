using System.Globalization;

namespace Milter.Keys.Rotation;

/// <summary>
/// The selector of a new key: a letter for the algorithm ("r" RSA, "e" Ed25519) and the UTC date, <c>r20261204</c>; when
/// that name is taken (the active, pending or a retiring selector of the domain, a selector the config names, or a key or
/// record file in the key directory), the first free one of <c>r20261204b</c> ... <c>r20261204z</c>. So a rotation never
/// reuses a selector whose record may still be cached somewhere with another key, RSA and Ed25519 rotations of one day
/// never meet, and a second rotation on the same day gets a new name.
/// </summary>
public static class RotationSelector
{
    public static string Prefix(string algorithm) => algorithm == "ed25519-sha256" ? "e" : "r";

    /// <summary>The first free name, or null when all 26 of the day are taken.</summary>
    public static string? Next(string algorithm, DateTimeOffset now, Func<string, bool> taken)
    {
        ArgumentNullException.ThrowIfNull(taken);
        var date = Prefix(algorithm) + now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        if (!taken(date)) return date;
        for (var c = 'b'; c <= 'z'; c++)
        {
            if (!taken(date + c)) return date + c;
        }
        return null;
    }
}
