namespace Milter.Commands;

/// <summary>The --domain and --selector options that keygen, testkey and sign share, validated.</summary>
internal sealed record DkimKeyArguments(string Domain, string Selector)
{
    /// <summary>The DNS name of the key record: "S._domainkey.D" (RFC 6376 3.6.2.1), without a final dot.</summary>
    public string RecordName => $"{Selector}._domainkey.{Domain}";

    public static DkimKeyArguments Read(CommandLine cl)
    {
        var domain = cl.Require("domain").Trim().TrimEnd('.').ToLowerInvariant();
        var selector = cl.Require("selector").Trim();
        if (!IsDnsName(domain))
            throw new UsageException($"{cl.Command}: --domain '{domain}' is not a domain name");
        // A selector may have several labels (RFC 6376 3.1), so it is checked as a name too.
        if (!IsDnsName(selector))
            throw new UsageException($"{cl.Command}: --selector '{selector}' is not a valid selector (letters, digits, '-', '_', dots between labels)");
        if (selector.Length + domain.Length + 12 > 253)
            throw new UsageException($"{cl.Command}: {selector}._domainkey.{domain} is longer than a DNS name may be (253)");
        return new DkimKeyArguments(domain, selector);
    }

    /// <summary>Labels of 1..63 letters, digits, '-' or '_' joined by single dots, at most 253 characters.</summary>
    private static bool IsDnsName(string name)
    {
        if (name.Length is 0 or > 253) return false;
        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63) return false;
            if (label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))) return false;
        }
        return true;
    }
}
