using System.Reflection;
using System.Reflection.Emit;

namespace Milter.Tests.Architecture;

/// <summary>
/// The types one type uses, read from the compiled assembly: its base type and interfaces, the types of its
/// fields, properties, parameters and return values, and every type, method and field token in its method
/// bodies (IL), including those of the compiler-made nested types (lambdas, iterators, async state machines).
/// Types of the same assembly appear in IL as definitions, not as assembly references, so reading the IL is
/// how a reference from one folder of milter.dll to another is seen.
/// </summary>
public static class TypeUses
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic |
        BindingFlags.Instance | BindingFlags.Static;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Every type <paramref name="type"/> (and its nested types) uses, with where it is used.</summary>
    public static IEnumerable<(Type Used, string Where)> Of(Type type)
    {
        foreach (var nested in type.GetNestedTypes(Declared))
            foreach (var use in Of(nested)) yield return use;
        if (type.BaseType is not null) yield return (type.BaseType, $"{type} base type");
        foreach (var i in type.GetInterfaces()) yield return (i, $"{type} interface");
        foreach (var f in type.GetFields(Declared)) yield return (f.FieldType, $"{type}.{f.Name}");
        foreach (var p in type.GetProperties(Declared)) yield return (p.PropertyType, $"{type}.{p.Name}");
        foreach (var m in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (m is MethodInfo mi) yield return (mi.ReturnType, $"{type}.{m.Name} return");
            foreach (var p in m.GetParameters()) yield return (p.ParameterType, $"{type}.{m.Name}({p.Name})");
            foreach (var used in InBody(m)) yield return (used, $"{type}.{m.Name} body");
        }
    }

    /// <summary>The type and its generic arguments, element types and declaring types, all the way down.</summary>
    public static IEnumerable<Type> Expand(Type type)
    {
        yield return type;
        if (type.HasElementType)
            foreach (var t in Expand(type.GetElementType()!)) yield return t;
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
            foreach (var t in type.GetGenericArguments().SelectMany(Expand)) yield return t;
        if (type.DeclaringType is not null && !type.IsGenericParameter)
            foreach (var t in Expand(type.DeclaringType)) yield return t;
    }

    private static IEnumerable<Type> InBody(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var module = method.Module;
        var typeArgs = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            int operandAt = i;
            i += OperandSize(op, il, i);
            if (op.OperandType is not (OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok))
                continue;
            var member = Resolve(module, BitConverter.ToInt32(il, operandAt), typeArgs, methodArgs);
            switch (member)
            {
                case Type t: yield return t; break;
                case FieldInfo f: yield return f.DeclaringType!; yield return f.FieldType; break;
                case MethodBase mb:
                    yield return mb.DeclaringType!;
                    if (mb is MethodInfo { IsGenericMethod: true } gm)
                        foreach (var a in gm.GetGenericArguments()) yield return a;
                    break;
            }
        }
    }

    private static MemberInfo? Resolve(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        try
        {
            return module.ResolveMember(token, typeArgs, methodArgs);
        }
        catch (ArgumentException)
        {
            return module.ResolveMember(token);
        }
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
        _ => 4,
    };
}
