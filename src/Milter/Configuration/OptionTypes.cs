using System.Diagnostics.CodeAnalysis;
using System.Reflection;

namespace Milter.Configuration;

/// <summary>
/// The writable properties of every type under <see cref="MilterOptions"/>, for <see cref="ConfigKeyCheck"/> (known
/// keys, near misses) and <see cref="ConfigLoader"/> (lists that replace their default). Each type is named here with
/// <c>typeof</c> through an annotated type parameter, so a trimmed or Native AOT executable keeps their property
/// metadata (walking <see cref="PropertyInfo.PropertyType"/> would not tell the trimmer to keep it). A section type
/// added to the options must be added here: <see cref="Properties"/> throws for a type it does not know, and
/// OptionTypesTests.Every_section_type_is_registered checks it.
/// </summary>
internal static class OptionTypes
{
    private static readonly Dictionary<Type, PropertyInfo[]> Writable = new[]
    {
        Of<MilterOptions>(), Of<DnsSection>(), Of<SigningSection>(), Of<SigningKeyOptions>(), Of<SigningRuleOptions>(),
        Of<RotationSection>(), Of<VerificationSection>(), Of<SpfSection>(), Of<DmarcSection>(), Of<ArcSection>(),
        Of<ArcSealSection>(), Of<ReportLogSection>(), Of<ReportsSection>(), Of<ServerSection>(), Of<MetricsSection>(),
    }.ToDictionary(x => x.Type, x => x.Properties);

    /// <summary>The option types this class knows.</summary>
    public static IEnumerable<Type> Known => Writable.Keys;

    /// <summary>The public writable instance properties of <paramref name="type"/>, an option type.</summary>
    public static PropertyInfo[] Properties(Type type)
        => Writable.TryGetValue(type, out var properties)
            ? properties
            : throw new InvalidOperationException($"{type.Name} is not listed in {nameof(OptionTypes)}");

    private static (Type Type, PropertyInfo[] Properties) Of<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] T>()
        => (typeof(T), typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray());
}
