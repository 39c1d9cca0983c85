using Milter.Configuration;

namespace Milter.Tests.Architecture;

/// <summary>Folders of milter.dll that must not use each other (issue 21 item 7), read from the compiled code
/// with <see cref="TypeUses"/>.</summary>
public sealed class LayerTests
{
    private static IEnumerable<Type> TypesIn(string ns) =>
        typeof(MilterOptions).Assembly.GetTypes().Where(t => t.DeclaringType is null && InNamespace(t, ns));

    private static bool InNamespace(Type t, string ns) =>
        t.Namespace is not null && (t.Namespace == ns || t.Namespace.StartsWith(ns + ".", StringComparison.Ordinal));

    /// <summary>The reader itself: a type known to use Milter.Configuration is seen to, through a body or a signature.</summary>
    [Fact]
    public void Type_uses_sees_a_type_of_the_same_assembly()
    {
        var uses = typeof(MilterOptions).Assembly.GetTypes().Where(t => t.DeclaringType is null && !InNamespace(t, "Milter.Configuration"))
            .SelectMany(TypeUses.Of).SelectMany(u => TypeUses.Expand(u.Used)).ToList();
        Assert.Contains(uses, t => t == typeof(MilterOptions));
    }
}
