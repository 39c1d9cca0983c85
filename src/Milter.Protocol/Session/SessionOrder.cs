using Milter.Protocol.Wire;

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

/// <summary>The order rules. Stages the filter negotiated away (NO*) are not sent by the MTA, so a
/// later stage may follow directly; otherwise each command must come in its place.</summary>
internal static class SessionOrder
{
    /// <summary>Whether <paramref name="command"/> may come now. May move the phase forward over a stage the
    /// MTA does not send (NOCONNECT: HELO/MAIL directly; NOMAIL: the message starts at RCPT or later).</summary>
    public static bool IsAllowed(byte command, ref SessionPhase phase, MilterProtocolFlags flags, out bool startsMessage)
    {
        startsMessage = false;
        switch (command)
        {
            case MilterCommand.OptNeg:
                return phase <= SessionPhase.AwaitConnect;
            case MilterCommand.Quit:
                return true;
            case MilterCommand.Macro:
            case MilterCommand.Abort:
            case MilterCommand.QuitNewConnection:
                return phase != SessionPhase.AwaitOptNeg;
            case MilterCommand.Connect:
                return phase == SessionPhase.AwaitConnect;
            case MilterCommand.Helo:
                return EnsureConnected(ref phase, flags) && phase <= SessionPhase.Rcpt;
            case MilterCommand.Unknown:
                return EnsureConnected(ref phase, flags);
            case MilterCommand.Mail:
                // MAIL inside a message (no ABORT in between) is allowed too: the session aborts the old
                // message first, as libmilter does (mi_engine.c resets to HELO state on a new MAIL).
                startsMessage = true;
                return EnsureConnected(ref phase, flags) && phase <= SessionPhase.Rcpt;
        }

        // Message commands: the message must have started (MAIL seen, or MAIL not sent under NOMAIL).
        if (!EnsureConnected(ref phase, flags)) return false;
        if (phase == SessionPhase.Connected)
        {
            if ((flags & MilterProtocolFlags.NoMail) == 0) return false;
            startsMessage = true;
        }
        var current = startsMessage ? SessionPhase.Mail : phase;
        return command switch
        {
            MilterCommand.Rcpt => current <= SessionPhase.Rcpt,
            MilterCommand.Data => current == SessionPhase.Rcpt || (current == SessionPhase.Mail && (flags & MilterProtocolFlags.NoRcpt) != 0),
            MilterCommand.Header => current <= SessionPhase.Header,
            MilterCommand.EndOfHeaders => current <= SessionPhase.Header,
            MilterCommand.Body => current <= SessionPhase.Body,
            MilterCommand.BodyEob => true,
            _ => false,
        };
    }

    /// <summary>The phase after a message command was accepted.</summary>
    public static SessionPhase After(byte command, SessionPhase phase) => command switch
    {
        MilterCommand.Connect => SessionPhase.Connected,
        MilterCommand.Mail => SessionPhase.Mail,
        MilterCommand.Rcpt => SessionPhase.Rcpt,
        MilterCommand.Data => SessionPhase.Data,
        MilterCommand.Header => SessionPhase.Header,
        MilterCommand.EndOfHeaders => SessionPhase.EndOfHeaders,
        MilterCommand.Body => SessionPhase.Body,
        MilterCommand.BodyEob => SessionPhase.Connected,
        _ => phase,
    };

    /// <summary>Whether the MTA waits for a reply to this command under the negotiated NR_* flags.</summary>
    public static bool ReplyExpected(byte command, MilterProtocolFlags flags) => command switch
    {
        MilterCommand.OptNeg or MilterCommand.BodyEob => true,
        MilterCommand.Connect => (flags & MilterProtocolFlags.NoReplyConnect) == 0,
        MilterCommand.Helo => (flags & MilterProtocolFlags.NoReplyHelo) == 0,
        MilterCommand.Mail => (flags & MilterProtocolFlags.NoReplyMail) == 0,
        MilterCommand.Rcpt => (flags & MilterProtocolFlags.NoReplyRcpt) == 0,
        MilterCommand.Data => (flags & MilterProtocolFlags.NoReplyData) == 0,
        MilterCommand.Header => (flags & MilterProtocolFlags.NoReplyHeader) == 0,
        MilterCommand.EndOfHeaders => (flags & MilterProtocolFlags.NoReplyEoh) == 0,
        MilterCommand.Body => (flags & MilterProtocolFlags.NoReplyBody) == 0,
        MilterCommand.Unknown => (flags & MilterProtocolFlags.NoReplyUnknown) == 0,
        _ => false,
    };

    /// <summary>The handler stage a command calls, or None.</summary>
    public static MilterStages Stage(byte command) => command switch
    {
        MilterCommand.Connect => MilterStages.Connect,
        MilterCommand.Helo => MilterStages.Helo,
        MilterCommand.Mail => MilterStages.MailFrom,
        MilterCommand.Rcpt => MilterStages.RcptTo,
        MilterCommand.Data => MilterStages.Data,
        MilterCommand.Header => MilterStages.Headers,
        MilterCommand.EndOfHeaders => MilterStages.EndOfHeaders,
        MilterCommand.Body => MilterStages.Body,
        MilterCommand.Unknown => MilterStages.Unknown,
        _ => MilterStages.None,
    };

    /// <summary>Macros sent before these commands belong to the message and are forgotten when it ends.</summary>
    public static bool IsMessageScope(byte command) => command is MilterCommand.Mail or MilterCommand.Rcpt
        or MilterCommand.Data or MilterCommand.Header or MilterCommand.EndOfHeaders or MilterCommand.Body or MilterCommand.BodyEob;

    private static bool EnsureConnected(ref SessionPhase phase, MilterProtocolFlags flags)
    {
        if (phase >= SessionPhase.Connected) return true;
        if (phase == SessionPhase.AwaitConnect && (flags & MilterProtocolFlags.NoConnect) != 0)
        {
            phase = SessionPhase.Connected;
            return true;
        }
        return false;
    }
}
