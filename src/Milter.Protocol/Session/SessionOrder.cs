namespace Milter.Protocol.Session;

/// <summary>Where a session is in the command sequence OPTNEG, CONNECT, HELO, MAIL, RCPT+, DATA, HEADER*, EOH, BODY*, BODYEOB.</summary>
internal enum SessionPhase
{
    AwaitOptNeg,
    AwaitConnect,
    Connected,
    Mail,
    Rcpt,
    Data,
    Header,
    EndOfHeaders,
    Body,
}

/// <summary>The order rule over <see cref="CommandTable"/>. Stages the filter negotiated away (NO*) are not sent by
/// the MTA, so a later stage may follow directly; otherwise each command must come in its place.</summary>
internal static class SessionOrder
{
    /// <summary>Whether <paramref name="rule"/>'s command may come now: the phase is within its Min..Max, or before Min
    /// with every command that would have led there omitted under the negotiated NO* flags (NOCONNECT: HELO or MAIL
    /// first; NOMAIL: the message starts at RCPT or later; NORCPT: DATA after MAIL). Moves
    /// <paramref name="phase"/> over the omitted commands; <paramref name="startsMessage"/> when this command starts
    /// a message (MAIL, or the first one after an omitted MAIL).</summary>
    public static bool IsAllowed(CommandRule rule, ref SessionPhase phase, MilterProtocolFlags flags, out bool startsMessage)
    {
        startsMessage = rule.Scope == CommandScope.MessageStart;
        var current = phase;
        while (current < rule.Min)
        {
            var omitted = CommandTable.Advance(current);
            if (omitted is null || (flags & omitted.Omitted) == 0) return false;
            startsMessage |= omitted.Scope == CommandScope.MessageStart;
            current = omitted.After!.Value;
        }
        if (current > rule.Max) return false;
        phase = current;
        return true;
    }
}
