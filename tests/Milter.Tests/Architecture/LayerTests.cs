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

    /// <summary>The filter (the daemon's front door) does not reach into the CLI (Commands/): the evaluation both
    /// share lives below them (Milter.MailAuth.Inbound, issue 21 item 1; before it, Filter/InboundChecks.cs used
    /// Milter.Commands and this test failed).</summary>
    [Fact]
    public void Filter_does_not_use_Commands() => AssertDoesNotUseCommands("Milter.Filter");

    /// <summary>The keys and their rotation, which the daemon runs, do not reach into the CLI either: the key record
    /// check that testkey, check-config, keys status and the rotation share is Keys/KeyRecordCheck (before it moved
    /// there, Keys/Rotation/RotationDns used Commands.TestkeyCommand and this test failed).</summary>
    [Fact]
    public void Keys_do_not_use_Commands() => AssertDoesNotUseCommands("Milter.Keys");

    private static void AssertDoesNotUseCommands(string ns)
    {
        var uses = TypesIn(ns)
            .SelectMany(t => TypeUses.Of(t).SelectMany(u => TypeUses.Expand(u.Used).Select(used => (Used: used, u.Where))))
            .Where(u => InNamespace(u.Used, "Milter.Commands") && u.Used.Assembly == typeof(MilterOptions).Assembly)
            .Select(u => $"{u.Where} uses {u.Used}")
            .Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(uses.Count == 0, $"{ns} uses Milter.Commands:\n" + string.Join('\n', uses));
    }
}
