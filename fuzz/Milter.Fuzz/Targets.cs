namespace Milter.Fuzz;

/// <summary>The fuzz targets by name. Each takes the input bytes and throws only for a bug: the parsers'
/// documented answers to bad input (false, null, an error result) return normally, and each target
/// checks a few properties of what it got back (<see cref="FuzzCheck"/>).</summary>
public static class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["frame"] = ProtocolTargets.Frame,
        ["session"] = ProtocolTargets.Session,
        ["dkim"] = MailAuthTargets.Dkim,
        ["spf"] = MailAuthTargets.Spf,
        ["dmarc"] = MailAuthTargets.Dmarc,
        ["authres"] = MailAuthTargets.AuthenticationResults,
        ["from"] = MailAuthTargets.From,
    };
}

/// <summary>A property a target checks did not hold (a bug even though nothing threw).</summary>
public sealed class FuzzCheckException(string message) : Exception(message);

public static class FuzzCheck
{
    public static void That(bool condition, string what)
    {
        if (!condition) throw new FuzzCheckException(what);
    }
}
