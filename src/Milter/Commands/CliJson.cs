using System.Text;
using System.Text.Json;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Spf;

namespace Milter.Commands;

/// <summary>The `--json` output of the commands: one object per run, camelCase names (PRODUCT.md), and the
/// objects `verify`, `spf` and `check` share.</summary>
internal static class CliJson
{
    /// <summary>One JSON object; <paramref name="body"/> writes its members.</summary>
    public static string Object(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>"dkim": one entry per signature (result, domain, selector, algorithm, headerI, reason).</summary>
    public static void WriteDkim(Utf8JsonWriter w, IReadOnlyList<DkimVerificationResult> results)
    {
        w.WriteStartArray("dkim");
        foreach (var r in results)
        {
            w.WriteStartObject();
            w.WriteString("result", r.ResultKeyword);
            w.WriteString("domain", r.Domain);
            w.WriteString("selector", r.Selector);
            w.WriteString("algorithm", r.Algorithm);
            w.WriteString("headerI", r.HeaderI);
            w.WriteString("reason", r.Reason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>"arc": result (none, pass, fail), oldestPass (RFC 8617 header.oldest-pass, null unless the chain
    /// passed), sealers (the ARC-Seal d= domains, oldest first) and reason (why it failed).</summary>
    public static void WriteArc(Utf8JsonWriter w, ArcChainResult arc)
    {
        w.WriteStartObject("arc");
        w.WriteString("result", arc.Keyword);
        if (arc.Result == ArcResult.Pass) w.WriteNumber("oldestPass", arc.OldestPass);
        else w.WriteNull("oldestPass");
        w.WriteStartArray("sealers");
        foreach (var sealer in arc.Sealers) w.WriteStringValue(sealer);
        w.WriteEndArray();
        w.WriteString("reason", arc.Reason);
        w.WriteEndObject();
    }

    /// <summary>The text line of an ARC result (`verify` and `check`); nothing for a message without ARC fields.</summary>
    public static string ArcLine(ArcChainResult arc) => arc.Result switch
    {
        ArcResult.None => "",
        ArcResult.Pass => $"arc=pass i={arc.Instances} sealers={string.Join(',', arc.Sealers)} oldest-pass={arc.OldestPass}\n",
        _ => $"arc=fail\n  reason: {arc.Reason}\n",
    };

    /// <summary>The members of the SPF object: result, domain, explanation.</summary>
    public static void WriteSpfMembers(Utf8JsonWriter w, SpfResult result)
    {
        w.WriteString("result", result.Keyword);
        w.WriteString("domain", result.Domain);
        w.WriteString("explanation", result.Explanation);
    }
}
