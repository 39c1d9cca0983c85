using System.Reflection;
using Milter.Configuration;

namespace Milter.Tests.Configuration;

public sealed class OptionTypesTests
{
    /// <summary>Every section type reachable from <see cref="MilterOptions"/> (properties, list items) is listed in
    /// <see cref="OptionTypes"/>, which the key check and the list replacement use in the trimmed executable.</summary>
    [Fact]
    public void Every_section_type_is_registered()
    {
        var reachable = new HashSet<Type>();
        Walk(typeof(MilterOptions), reachable);
        Assert.Equal(reachable.OrderBy(t => t.Name).Select(t => t.Name), OptionTypes.Known.OrderBy(t => t.Name).Select(t => t.Name));
    }

    private static void Walk(Type type, HashSet<Type> seen)
    {
        if (!seen.Add(type)) return;
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var t = p.PropertyType.IsArray ? p.PropertyType.GetElementType()! : p.PropertyType;
            if (t.IsClass && t != typeof(string)) Walk(t, seen);
        }
    }
}
