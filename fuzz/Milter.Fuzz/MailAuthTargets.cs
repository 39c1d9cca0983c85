using System.Text;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;

namespace Milter.Fuzz;

/// <summary>Targets in Milter.MailAuth. Text parsers get the input as UTF-8 (invalid bytes become U+FFFD),
/// as DNS TXT strings and header values reach them; the DKIM-Signature parser gets the raw bytes.</summary>
public static class MailAuthTargets
{
    private const string AuthservId = "mx.example.org";

    private static readonly MacroValues Values = new(
        "strong-bad@email.example.com", "strong-bad", "email.example.com", "email.example.com",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2", "2001:db8::1", true,
        "mx.example.org", "receiver.example", 1234567890, null);

    /// <summary>DKIM tag lists (DkimTagList, DkimVerifierSignature.Parse) and key records (DkimKeyRecord.Parse).</summary>
    public static void Dkim(byte[] input)
    {
        var latin1 = Encoding.Latin1.GetString(input);
        if (DkimTagList.TryParse(latin1, out var list, out var error))
        {
            FuzzCheck.That(list is not null && list.Count is > 0 and <= DkimTagList.MaxTags && error is null, "tag list result inconsistent");
            foreach (var tag in list!.Tags)
            {
                FuzzCheck.That(tag.ValueStart <= tag.ValueEnd && tag.ValueEnd <= latin1.Length, "tag value range outside the text");
                FuzzCheck.That(latin1.AsSpan(tag.ValueStart, tag.ValueEnd - tag.ValueStart).Contains(tag.Value.AsSpan(), StringComparison.Ordinal), "tag value not inside its range");
                FuzzCheck.That(list[tag.Name] == tag.Value, "tag lookup disagrees");
            }
        }
        else
        {
            FuzzCheck.That(list is null && error is not null, "failed tag list without an error");
        }

        var signature = DkimVerifierSignature.Parse("DKIM-Signature"u8.ToArray(), input);
        _ = signature.Error;

        var key = DkimKeyRecord.Parse(Encoding.UTF8.GetString(input));
        FuzzCheck.That((key.Key is null) != (key.Error is null), "key record result inconsistent");
        if (key.Key is { } record)
        {
            foreach (var algorithm in Enum.GetValues<DkimSignatureAlgorithm>()) record.Suits(algorithm, out _);
            FuzzCheck.That(!record.VerifySha256(new byte[32], new byte[(record.KeyBits + 7) / 8]), "an all-zero signature verified");
            FuzzCheck.That(!record.VerifySha256(new byte[32], new byte[64]), "an all-zero signature verified");
        }
    }

    /// <summary>SPF records (SpfRecordParser, with the macro-strings they hold expanded) and macro-strings alone
    /// in every scope (MacroString).</summary>
    public static void Spf(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        if (SpfRecordParser.IsSpfRecord(text))
        {
            var record = SpfRecordParser.Parse(text, out var error);
            FuzzCheck.That((record is null) != (error is null), "SPF record result inconsistent");
            if (record is not null)
            {
                foreach (var m in record.Mechanisms)
                    if (m.Domain is not null) Expand(m.Domain);
                if (record.Redirect is not null) Expand(record.Redirect);
                if (record.Explanation is not null) Expand(record.Explanation);
            }
        }
        foreach (var scope in Enum.GetValues<MacroScope>())
            CheckMacro(MacroString.TryParse(text, scope, out var macro), macro);
        CheckMacro(MacroString.TryParseDomainSpec(text, out var domain), domain);
    }

    private static void CheckMacro(string? error, MacroString? macro)
    {
        FuzzCheck.That((macro is null) != (error is null), "macro-string result inconsistent");
        if (macro is not null) Expand(macro);
    }

    private static void Expand(MacroString macro)
    {
        FuzzCheck.That(macro.Expand(Values).Length <= 8192, "macro expansion above 8 KiB");
        FuzzCheck.That(macro.Expand(Values with { IsIpv6 = false, DottedIp = "192.0.2.3", ReadableIp = "192.0.2.3", ValidatedName = "mx.example.org" }).Length <= 8192, "macro expansion above 8 KiB");
    }

    /// <summary>DMARC records (DmarcRecord.TryParse, IsDmarcRecord, EffectivePolicies).</summary>
    public static void Dmarc(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        var isRecord = DmarcRecord.IsDmarcRecord(text);
        if (DmarcRecord.TryParse(text, out var record, out var error))
        {
            FuzzCheck.That(record is not null && error is null && isRecord, "DMARC record result inconsistent");
            foreach (var mode in Enum.GetValues<DmarcMode>()) record!.EffectivePolicies(mode);
            FuzzCheck.That(record!.Percent is >= 0 and <= 100, "pct outside 0..100");
        }
        else
        {
            FuzzCheck.That(record is null && error is not null, "failed DMARC record without an error");
        }
    }

    /// <summary>Authentication-Results parsing: MimeKit's parser behind AuthenticationResultsParser, the
    /// tolerant authserv-id reader, and the forged-header finder built on them.</summary>
    public static void AuthenticationResults(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        AuthenticationResultsParser.TryParse(text, out _);
        _ = TolerantAuthservIdReader.Read(text);
        if (AuthenticationResultsParser.TryGetAuthservId(text, out var id))
        {
            FuzzCheck.That(!string.IsNullOrEmpty(id), "empty authserv-id found");
            FuzzCheck.That(AuthenticationResultsParser.ClaimsAuthservId(text, id!), "field does not claim its own authserv-id");
        }
        var claims = AuthenticationResultsParser.ClaimsAuthservId(text, AuthservId);
        var found = ForgedHeaderFinder.Find([("Subject", text), ("Authentication-Results", text), ("authentication-results ", "x; none")], AuthservId);
        FuzzCheck.That(found.Count == (claims ? 1 : 0) && (!claims || found[0] == 1), "forged-header finder disagrees with the parser");
    }

    /// <summary>The From parser (AuthorDomain): one field value, and the input's lines as header fields.</summary>
    public static void From(byte[] input)
    {
        var author = AuthorDomain.FromValue(input);
        if (author.Status == AuthorStatus.Ok)
            FuzzCheck.That(author.Domain is { Length: > 0 } d && d.All(c => char.IsAscii(c) && !char.IsAsciiLetterUpper(c)) && author.Problem is null, "Ok author without a lower-case ASCII domain");
        else
            FuzzCheck.That(author.Problem is not null && author.Domain is null, "failed author without a problem");

        var headers = new List<(string, byte[])>();
        foreach (var line in SplitLines(input))
        {
            var colon = Array.IndexOf(line, (byte)':');
            if (colon >= 0) headers.Add((Encoding.Latin1.GetString(line, 0, colon), line[(colon + 1)..]));
        }
        AuthorDomain.FromHeaders(headers);
    }

    private static IEnumerable<byte[]> SplitLines(byte[] input)
    {
        var start = 0;
        for (var i = 0; i <= input.Length; i++)
        {
            if (i < input.Length && input[i] != '\n') continue;
            yield return input[start..i];
            start = i + 1;
        }
    }
}
