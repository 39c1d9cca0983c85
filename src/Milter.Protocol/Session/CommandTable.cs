using System.Reflection;
using Milter.Protocol.Wire;
using C = Milter.Protocol.Wire.MilterCommand;
using D = Milter.Protocol.Session.PayloadShape;
using F = Milter.Protocol.MilterProtocolFlags;
using P = Milter.Protocol.Session.SessionPhase;
using R = Milter.Protocol.Session.ReplyRule;
using S = Milter.Protocol.MilterStages;
using static Milter.Protocol.Session.CommandAction;
using static Milter.Protocol.Session.CommandScope;

namespace Milter.Protocol.Session;

/// <summary>
/// The milter session rules, one row per SMFIC_* command (sendmail include/libmilter/mfdef.h; reply rules from
/// Postfix milter8.c). A command is accepted in a phase from Min to Max, or earlier when the MTA omits every
/// command that would have led to Min (NO* flags: <see cref="SessionOrder.IsAllowed"/>); it then moves the phase
/// to After. The session looks a command up by its byte (<see cref="Find"/>: an array index, no allocation).
/// The rows are checked when the type is first used: a command of <see cref="MilterCommand"/> without exactly
/// one consistent row stops the program at start-up.
/// </summary>
internal static class CommandTable
{
    private static readonly CommandRule[] s_rows =
    [
        //  code                 name             action         min             max             after           stage           omitted      reply                       payload      handler    scope
        new(C.OptNeg,            "SMFIC_OPTNEG",  Negotiate,     P.AwaitOptNeg,  P.AwaitConnect, null,           S.None,         F.None,      R.Always,                   D.None,      null,      Connection),
        new(C.Quit,              "SMFIC_QUIT",    Quit,          P.AwaitOptNeg,  P.Body,         null,           S.None,         F.None,      R.Never,                    D.None,      null,      Connection),
        new(C.QuitNewConnection, "SMFIC_QUIT_NC", NewConnection, P.AwaitConnect, P.Body,         null,           S.None,         F.None,      R.Never,                    D.None,      null,      Connection),
        new(C.Abort,             "SMFIC_ABORT",   Abort,         P.AwaitConnect, P.Body,         null,           S.None,         F.None,      R.Never,                    D.None,      null,      Connection),
        new(C.Macro,             "SMFIC_MACRO",   Macros,        P.AwaitConnect, P.Body,         null,           S.None,         F.None,      R.Never,                    D.None,      null,      Connection),
        new(C.Connect,           "SMFIC_CONNECT", Stage,         P.AwaitConnect, P.AwaitConnect, P.Connected,    S.Connect,      F.NoConnect, R.Unless(F.NoReplyConnect), D.Connect,   OnConnect, Connection),
        new(C.Helo,              "SMFIC_HELO",    Stage,         P.Connected,    P.Rcpt,         null,           S.Helo,         F.NoHelo,    R.Unless(F.NoReplyHelo),    D.Text,      OnHelo,    Connection),
        new(C.Unknown,           "SMFIC_UNKNOWN", Stage,         P.Connected,    P.Body,         null,           S.Unknown,      F.NoUnknown, R.Unless(F.NoReplyUnknown), D.Text,      OnUnknown, Connection),
        // MAIL inside a message (no ABORT in between) ends that message first, as libmilter does (mi_engine.c).
        new(C.Mail,              "SMFIC_MAIL",    Stage,         P.Connected,    P.Rcpt,         P.Mail,         S.MailFrom,     F.NoMail,    R.Unless(F.NoReplyMail),    D.Addresses, OnMail,    MessageStart),
        new(C.Rcpt,              "SMFIC_RCPT",    Stage,         P.Mail,         P.Rcpt,         P.Rcpt,         S.RcptTo,       F.NoRcpt,    R.Unless(F.NoReplyRcpt),    D.Addresses, OnRcpt,    Message),
        new(C.Data,              "SMFIC_DATA",    Stage,         P.Rcpt,         P.Rcpt,         P.Data,         S.Data,         F.NoData,    R.Unless(F.NoReplyData),    D.None,      OnData,    Message),
        new(C.Header,            "SMFIC_HEADER",  Stage,         P.Mail,         P.Header,       P.Header,       S.Headers,      F.NoHeaders, R.Unless(F.NoReplyHeader),  D.Header,    OnHeader,  Message),
        new(C.EndOfHeaders,      "SMFIC_EOH",     Stage,         P.Mail,         P.Header,       P.EndOfHeaders, S.EndOfHeaders, F.NoEoh,     R.Unless(F.NoReplyEoh),     D.None,      OnEoh,     Message),
        new(C.Body,              "SMFIC_BODY",    Stage,         P.Mail,         P.Body,         P.Body,         S.Body,         F.NoBody,    R.Unless(F.NoReplyBody),    D.Chunk,     OnBody,    Message),
        new(C.BodyEob,           "SMFIC_BODYEOB", EndOfMessage,  P.Mail,         P.Body,         P.Connected,    S.None,         F.None,      R.Always,                   D.Chunk,     null,      Message),
    ];

    private static readonly CommandRule?[] s_byCode = new CommandRule?[256];
    private static readonly CommandRule?[] s_advance = new CommandRule?[(int)P.Body + 1];

#pragma warning disable CA1810 // the checks must run before the first lookup; a static constructor says so
    static CommandTable()
    {
        var problems = Check(s_rows, KnownCommands());
        if (problems.Count > 0)
            throw new InvalidOperationException("the milter command table is inconsistent: " + string.Join("; ", problems));
        foreach (var row in s_rows)
        {
            s_byCode[row.Code] = row;
            foreach (var phase in Enum.GetValues<P>())
                if (Advances(row, phase)) s_advance[(int)phase] = row;
        }
    }
#pragma warning restore CA1810

    public static IReadOnlyList<CommandRule> Rows => s_rows;

    /// <summary>The row of a command byte; null for a byte that is no SMFIC_* command.</summary>
    public static CommandRule? Find(byte code) => s_byCode[code];

    /// <summary>The C name, for log lines ("SMFIC_HELO", or the byte in hex).</summary>
    public static string Name(byte code) => s_byCode[code]?.Name ?? $"0x{code:x2}";

    /// <summary>The command the MTA may omit (under its NO* flag) to move the session from <paramref name="phase"/>
    /// to the next phase: CONNECT from AwaitConnect, MAIL from Connected, RCPT from Mail...; null when none.</summary>
    public static CommandRule? Advance(P phase) => s_advance[(int)phase];

    private static bool Advances(CommandRule row, P phase)
        => row.Omitted != F.None && row.Min <= phase && row.After == phase + 1;

    /// <summary>Every byte <see cref="MilterCommand"/> declares.</summary>
    internal static IReadOnlyList<byte> KnownCommands() =>
        [.. typeof(MilterCommand).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(byte)).Select(f => (byte)f.GetRawConstantValue()!)];

    /// <summary>What is wrong with a table: a known command with no row or several, a row for an unknown byte, or a
    /// row that contradicts itself. Empty when the table is sound.</summary>
    internal static List<string> Check(IReadOnlyList<CommandRule> rows, IReadOnlyList<byte> known)
    {
        var problems = new List<string>();
        foreach (var code in known)
        {
            var count = rows.Count(r => r.Code == code);
            if (count != 1) problems.Add($"command '{(char)code}' has {count} rows");
        }
        foreach (var row in rows)
        {
            var name = $"{row.Name} ('{(char)row.Code}')";
            if (!known.Contains(row.Code)) problems.Add($"{name} is not a MilterCommand");
            if (row.Min > row.Max) problems.Add($"{name}: Min {row.Min} after Max {row.Max}");
            if ((row.Action == Stage) != (row.Call is not null) || (row.Action == Stage) != (row.Stage != S.None))
                problems.Add($"{name}: a stage command needs a stage and a handler call, and only it");
            if ((row.Scope == Message) != (row.Min >= P.Mail))
                problems.Add($"{name}: a message command (scope Message) must come no earlier than MAIL, and only it");
            if (row.Action is Stage or EndOfMessage && row.Scope != Connection && row.After is null)
                problems.Add($"{name}: a message command must set the phase after it");
        }
        foreach (var phase in Enum.GetValues<P>())
        {
            var advancing = rows.Count(r => Advances(r, phase));
            if (advancing > 1) problems.Add($"{advancing} commands lead from {phase} to the next phase");
        }
        return problems;
    }

    private static ValueTask<MilterResponse> OnConnect(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnConnectAsync(c, a.Connect!, ct);
    private static ValueTask<MilterResponse> OnHelo(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnHeloAsync(c, a.Text!, ct);
    private static ValueTask<MilterResponse> OnUnknown(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnUnknownAsync(c, a.Text!, ct);
    private static ValueTask<MilterResponse> OnMail(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnMailFromAsync(c, a.Text!, a.Args!, ct);
    private static ValueTask<MilterResponse> OnRcpt(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnRcptToAsync(c, a.Text!, a.Args!, ct);
    private static ValueTask<MilterResponse> OnData(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnDataAsync(c, ct);
    private static ValueTask<MilterResponse> OnHeader(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnHeaderAsync(c, a.Text!, a.Bytes!, ct);
    private static ValueTask<MilterResponse> OnEoh(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnEndOfHeadersAsync(c, ct);
    private static ValueTask<MilterResponse> OnBody(IMilterHandler h, MilterContext c, in StageArgs a, CancellationToken ct) => h.OnBodyChunkAsync(c, a.Chunk, ct);
}
