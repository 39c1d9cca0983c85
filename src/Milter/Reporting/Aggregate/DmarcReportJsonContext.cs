using System.Text.Json.Serialization;

namespace Milter.Reporting.Aggregate;

/// <summary>Source-generated JSON for the list columns of the report store (DKIM results, reasons, rua).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(List<DmarcDkimAuth>))]
[JsonSerializable(typeof(List<DmarcPolicyReason>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(DmarcEvaluationRecord))]
internal sealed partial class DmarcReportJsonContext : JsonSerializerContext;
