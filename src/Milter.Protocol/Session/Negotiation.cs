using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>Computes the filter's OPTNEG reply from the MTA's offer and the handler's capabilities.</summary>
public static class Negotiation
{
    /// <summary>Every SMFIP_* flag Postfix 3.x offers with milter_protocol = 6.</summary>
    public const MilterProtocolFlags AllProtocolFlags = (MilterProtocolFlags)0x1FFFFF;
    public const MilterActions AllActions = (MilterActions)0x1FF;

    /// <summary>
    /// The reply is always a subset of the offer (Postfix milter8.c refuses a reply whose action mask
    /// is not a subset of its own, and a version above its own). A stage the handler does not want is
    /// skipped with NO* if offered, else at least its reply with NR_*. Macro lists are requested only
    /// when the MTA offered SMFIF_SETSYMLIST, and then SETSYMLIST is set in the reply (as libmilter's
    /// smfi_setsymlist does).
    /// </summary>
    public static NegotiatedOptions Negotiate(uint mtaVersion, MilterActions mtaActions, MilterProtocolFlags mtaFlags, MilterCapabilities capabilities)
    {
        var version = Math.Min(mtaVersion, WireConstants.ProtocolVersion);
        var wanted = MilterProtocolFlags.None;
        foreach (var rule in CommandTable.Rows)
        {
            if (rule.Stage == MilterStages.None) continue;
            var (no, noReply) = (rule.Omitted, rule.Reply.UnlessFlag);
            if ((capabilities.Stages & rule.Stage) == 0)
                wanted |= (mtaFlags & no) != 0 ? no : noReply;
            else if ((capabilities.NoReplyStages & rule.Stage) != 0)
                wanted |= noReply;
        }
        if (capabilities.HeaderLeadingSpace) wanted |= MilterProtocolFlags.HeaderLeadingSpace;
        wanted |= MilterProtocolFlags.Skip;
        var flags = wanted & mtaFlags;

        var actions = capabilities.Actions & mtaActions & ~MilterActions.SetSymbolList;
        var macros = new Dictionary<MacroStage, string>();
        if ((mtaActions & MilterActions.SetSymbolList) != 0)
        {
            foreach (var (stage, names) in capabilities.Macros)
            {
                if (names.Count == 0 || !Enum.IsDefined(stage)) continue;
                macros[stage] = string.Join(' ', names.Select(BraceName));
            }
            if (macros.Count > 0) actions |= MilterActions.SetSymbolList;
        }
        return new NegotiatedOptions(version, actions, flags, macros);
    }

    /// <summary>The last negotiation: its capabilities object (compared by reference) and the MTA's offer, the
    /// answer and the OPTNEG reply frame.</summary>
    private sealed record Memo(MilterCapabilities Capabilities, uint Version, MilterActions Actions, MilterProtocolFlags Flags,
        NegotiatedOptions Options, ReadOnlyMemory<byte> Reply);

    private static Memo? s_memo;

    /// <summary><see cref="Negotiate"/> and the reply frame <see cref="WriteReply"/> writes, remembered for the last
    /// (capabilities object, offer): an MTA makes the same offer on every connection and a handler's capabilities
    /// are one object, so a connection does not rebuild the macro lists and the frame (issue 16: cost per connection).
    /// A handler that returns a new capabilities object each time is simply negotiated afresh.</summary>
    public static (NegotiatedOptions Options, ReadOnlyMemory<byte> Reply) NegotiateWithReply(uint mtaVersion, MilterActions mtaActions,
        MilterProtocolFlags mtaFlags, MilterCapabilities capabilities)
    {
        var memo = Volatile.Read(ref s_memo);
        if (memo is null || !ReferenceEquals(memo.Capabilities, capabilities) || memo.Version != mtaVersion
            || memo.Actions != mtaActions || memo.Flags != mtaFlags)
        {
            var options = Negotiate(mtaVersion, mtaActions, mtaFlags, capabilities);
            using var builder = new FrameBuilder();
            WriteReply(builder, options);
            memo = new Memo(capabilities, mtaVersion, mtaActions, mtaFlags, options, builder.WrittenSpan.ToArray());
            Volatile.Write(ref s_memo, memo);
        }
        return (memo.Options, memo.Reply);
    }

    /// <summary>Long macro names travel in braces ("{auth_type}"); one-character names do not ("i").</summary>
    public static string BraceName(string name)
        => name.Length > 1 && name[0] != '{' ? "{" + name + "}" : name;

    /// <summary>Writes the OPTNEG reply frame.</summary>
    public static void WriteReply(FrameBuilder builder, NegotiatedOptions options)
    {
        builder.Begin(MilterCommand.OptNeg)
            .WriteUInt32(options.Version)
            .WriteUInt32((uint)options.Actions)
            .WriteUInt32((uint)options.ProtocolFlags);
        foreach (var (stage, names) in options.Macros.OrderBy(kv => kv.Key))
            builder.WriteUInt32((uint)stage).WriteCString(names);
        builder.End();
    }

    private static readonly IReadOnlyDictionary<MacroStage, string> NoMacros = System.Collections.ObjectModel.ReadOnlyDictionary<MacroStage, string>.Empty;

    /// <summary>Parses an OPTNEG frame's data (either direction): version, actions, flags and optional macro lists.
    /// Null when it is shorter than the three numbers or a macro list is truncated.</summary>
    public static NegotiatedOptions? Parse(ReadOnlySpan<byte> data)
    {
        var reader = new PayloadReader(data);
        if (!reader.TryReadUInt32(out var version) || !reader.TryReadUInt32(out var actions) || !reader.TryReadUInt32(out var flags))
            return null;
        if (reader.End) return new NegotiatedOptions(version, (MilterActions)actions, (MilterProtocolFlags)flags, NoMacros);
        var macros = new Dictionary<MacroStage, string>();
        while (!reader.End)
        {
            if (!reader.TryReadUInt32(out var stage) || !reader.TryReadCString(out var names)) return null;
            macros[(MacroStage)stage] = names;
        }
        return new NegotiatedOptions(version, (MilterActions)actions, (MilterProtocolFlags)flags, macros);
    }
}
