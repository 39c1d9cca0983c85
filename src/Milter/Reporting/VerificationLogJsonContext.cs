using System.Text.Json.Serialization;

namespace Milter.Reporting;

/// <summary>Source-generated camelCase JSON for the verification log (no reflection at run time).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(VerificationRecord))]
internal sealed partial class VerificationLogJsonContext : JsonSerializerContext;
