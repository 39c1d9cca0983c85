namespace Milter.Protocol.Session;

/// <summary>One row of <see cref="CommandTable"/>: everything the session knows about one SMFIC_* command.</summary>
/// <param name="Min">Earliest phase the command may come in (earlier only when the MTA omits the stages between:
/// <see cref="SessionOrder.IsAllowed"/>).</param>
/// <param name="Max">Latest phase the command may come in.</param>
/// <param name="After">The phase once the command is accepted; null leaves it (control commands set theirs in their action).</param>
/// <param name="Stage">The handler stage it calls (None: no handler stage).</param>
/// <param name="Omitted">The NO* flag under which the MTA does not send it (None: always sent).</param>
/// <param name="Payload">How its data is decoded for the handler.</param>
/// <param name="Call">The handler method a stage command goes to (null for the others).</param>
/// <param name="Scope">Connection or message; also the scope of the macros sent before it.</param>
internal sealed record CommandRule(
    byte Code,
    string Name,
    CommandAction Action,
    SessionPhase Min,
    SessionPhase Max,
    SessionPhase? After,
    MilterStages Stage,
    MilterProtocolFlags Omitted,
    ReplyRule Reply,
    PayloadShape Payload,
    StageHandlerCall? Call,
    CommandScope Scope)
{
    /// <summary>Whether the command is part of a message, so the macros sent before it are forgotten when the message ends.</summary>
    public bool MessageMacros => Scope != CommandScope.Connection;
}

/// <summary>What the session does with a command once its order was checked (MilterSession.DispatchAsync).</summary>
internal enum CommandAction
{
    /// <summary>OPTNEG: answer with the options the handler and the MTA agree on.</summary>
    Negotiate,
    /// <summary>QUIT: end the session.</summary>
    Quit,
    /// <summary>QUIT_NC: end the message and forget the SMTP session; a new CONNECT follows.</summary>
    NewConnection,
    /// <summary>ABORT: end the message (the handler is told), keep the connection.</summary>
    Abort,
    /// <summary>MACRO: store the macros for the command named in the first data byte.</summary>
    Macros,
    /// <summary>Decode, call the handler's stage, reply when due.</summary>
    Stage,
    /// <summary>BODYEOB: the last chunk, the handler with the modifier, modifications and the final reply in one send.</summary>
    EndOfMessage,
}

/// <summary>Where a command stands relative to a message.</summary>
internal enum CommandScope
{
    /// <summary>Outside any message (or a control command that may come anywhere).</summary>
    Connection,
    /// <summary>Starts a message (MAIL); one inside a message ends that message first.</summary>
    MessageStart,
    /// <summary>Inside a message; starts one when the MTA omits MAIL (NOMAIL).</summary>
    Message,
}

/// <summary>How a stage command's data is decoded (<see cref="PayloadDecoder"/>).</summary>
internal enum PayloadShape
{
    /// <summary>Nothing, or nothing the handler needs.</summary>
    None,
    /// <summary>host\0, family, then port and address\0 unless the family is unknown.</summary>
    Connect,
    /// <summary>One NUL-terminated string.</summary>
    Text,
    /// <summary>An address, then ESMTP arguments, each NUL-terminated.</summary>
    Addresses,
    /// <summary>name\0 value\0 (the value kept as bytes).</summary>
    Header,
    /// <summary>The raw data (a body chunk).</summary>
    Chunk,
}

/// <summary>When the MTA waits for a reply: never, always, or unless a NR_* flag was negotiated.</summary>
internal readonly record struct ReplyRule(bool Due, MilterProtocolFlags UnlessFlag)
{
    public static ReplyRule Never => new(false, MilterProtocolFlags.None);
    public static ReplyRule Always => new(true, MilterProtocolFlags.None);
    public static ReplyRule Unless(MilterProtocolFlags noReply) => new(true, noReply);

    public bool Expected(MilterProtocolFlags negotiated) => Due && (negotiated & UnlessFlag) == 0;
}

/// <summary>A decoded stage command, ready for the handler (a struct: no allocation for body chunks).</summary>
internal readonly record struct StageArgs(
    string? Text = null,
    IReadOnlyList<string>? Args = null,
    byte[]? Bytes = null,
    ReadOnlyMemory<byte> Chunk = default,
    ConnectInfo? Connect = null);

/// <summary>Calls one handler stage with the decoded arguments.</summary>
internal delegate ValueTask<MilterResponse> StageHandlerCall(IMilterHandler handler, MilterContext context, in StageArgs args, CancellationToken ct);
