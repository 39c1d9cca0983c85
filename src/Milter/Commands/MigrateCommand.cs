using System.Text;
using System.Text.Json;
using Milter.Configuration;
using Milter.Configuration.OpenDkim;

namespace Milter.Commands;

/// <summary>`milter migrate --opendkim-config FILE`: the milter JSON config equivalent to an OpenDKIM config on standard
/// output (plain JSON, no comments), and on standard error one line per option translated and one per option without
/// an equivalent. Running milter on the printed config signs exactly as on the OpenDKIM files (the same translation).</summary>
public static class MigrateCommand
{
    public static int Execute(CommandLine cl)
    {
        var file = cl.Require("opendkim-config");
        var translation = OpenDkimTranslator.Load(file);
        Console.Out.WriteLine(ToJson(translation.Options));
        foreach (var line in translation.Translated) Console.Error.WriteLine("translated: " + line);
        foreach (var line in translation.Warnings) Console.Error.WriteLine("no equivalent: " + line);
        Console.Error.WriteLine($"migrate: {translation.Translated.Count} option(s) translated, {translation.Warnings.Count} without an equivalent; " +
                                "check the result with: milter check-config --config FILE");
        return Program.ExitOk;
    }

    /// <summary>The sections an OpenDKIM config can set; the rest stays at milter's defaults. The authserv-id is written
    /// only when it is not the host name (the default it falls back to).</summary>
    public static string ToJson(MilterOptions o)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            Strings(w, "Listen", o.Listen);
            if (o.AuthservId is { } id && id != ConfigLoader.DefaultAuthservId()) w.WriteString("AuthservId", id);
            if (o.Dns.Servers is { Length: > 0 } servers)
            {
                w.WriteStartObject("Dns");
                Strings(w, "Servers", servers);
                w.WriteEndObject();
            }
            var s = o.Signing;
            w.WriteStartObject("Signing");
            w.WriteStartArray("Rules");
            foreach (var rule in s.Rules ?? [])
            {
                w.WriteStartObject();
                Strings(w, "From", rule.From);
                if (rule.MatchAddress) w.WriteBoolean("MatchAddress", true);
                w.WriteStartArray("Keys");
                foreach (var k in rule.Keys ?? [])
                {
                    w.WriteStartObject();
                    w.WriteString("Domain", k.Domain);
                    w.WriteString("Selector", k.Selector);
                    w.WriteString("KeyFile", k.KeyFile);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (rule.Continue) w.WriteBoolean("Continue", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Strings(w, "InternalHosts", s.InternalHosts);
            w.WriteString("Canonicalization", s.Canonicalization);
            if (s.SignHeaders is not null) Strings(w, "SignHeaders", s.SignHeaders);
            Strings(w, "OversignHeaders", s.OversignHeaders);
            if (s.AllowGroupReadableKeys) w.WriteBoolean("AllowGroupReadableKeys", true);
            w.WriteEndObject();
            w.WriteStartObject("Verification");
            w.WriteNumber("MinimumKeyBits", o.Verification.MinimumKeyBits);
            w.WriteNumber("MaxSignatures", o.Verification.MaxSignatures);
            w.WriteString("HeaderLimitAction", o.Verification.HeaderLimitAction);
            w.WriteEndObject();
            if (o.Server.UnixSocketMode != new ServerSection().UnixSocketMode)
            {
                w.WriteStartObject("Server");
                w.WriteString("UnixSocketMode", o.Server.UnixSocketMode);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string>? values)
    {
        w.WriteStartArray(name);
        foreach (var v in values ?? []) w.WriteStringValue(v);
        w.WriteEndArray();
    }
}
