using System.Text;
using System.Text.Json;
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

    /// <summary>The members of the SPF object: result, domain, explanation.</summary>
    public static void WriteSpfMembers(Utf8JsonWriter w, SpfResult result)
    {
        w.WriteString("result", result.Keyword);
        w.WriteString("domain", result.Domain);
        w.WriteString("explanation", result.Explanation);
    }
}
