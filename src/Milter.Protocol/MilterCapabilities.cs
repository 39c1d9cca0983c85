namespace Milter.Protocol;

/// <summary>SMFIF_* action flags (OPTNEG).</summary>
[Flags]
public enum MilterActions : uint
{
    None = 0,
    AddHeaders = 0x001,
    ChangeBody = 0x002,
    AddRecipient = 0x004,
    DeleteRecipient = 0x008,
    ChangeHeaders = 0x010,
    Quarantine = 0x020,
    ChangeFrom = 0x040,
    AddRecipientWithArgs = 0x080,
    SetSymbolList = 0x100,
}

/// <summary>SMFIP_* protocol flags (OPTNEG).</summary>
[Flags]
public enum MilterProtocolFlags : uint
{
    None = 0,
    NoConnect = 0x01,
    NoHelo = 0x02,
    NoMail = 0x04,
    NoRcpt = 0x08,
    NoBody = 0x10,
    NoHeaders = 0x20,
    NoEoh = 0x40,
    NoReplyHeader = 0x80,
    NoUnknown = 0x100,
    NoData = 0x200,
    Skip = 0x400,
    RcptRejected = 0x800,
    NoReplyConnect = 0x1000,
    NoReplyHelo = 0x2000,
    NoReplyMail = 0x4000,
    NoReplyRcpt = 0x8000,
    NoReplyData = 0x10000,
    NoReplyUnknown = 0x20000,
    NoReplyEoh = 0x40000,
    NoReplyBody = 0x80000,
    HeaderLeadingSpace = 0x100000,
}

/// <summary>Stages a handler wants to see (the rest are negotiated away with NO* flags).</summary>
[Flags]
public enum MilterStages
{
    None = 0,
    Connect = 1,
    Helo = 2,
    MailFrom = 4,
    RcptTo = 8,
    Data = 16,
    Headers = 32,
    EndOfHeaders = 64,
    Body = 128,
    Unknown = 256,
    All = Connect | Helo | MailFrom | RcptTo | Data | Headers | EndOfHeaders | Body | Unknown,
}

/// <summary>Macro stages for the macro request of the OPTNEG reply (SMFIM_*).</summary>
public enum MacroStage : uint
{
    Connect = 0,
    Helo = 1,
    MailFrom = 2,
    RcptTo = 3,
    Data = 4,
    EndOfMessage = 5,
    EndOfHeaders = 6,
}

/// <summary>What a handler declares at negotiation.</summary>
public sealed record MilterCapabilities
{
    /// <summary>Stages whose callbacks matter. Others are skipped (NO* flags) where the MTA allows it.</summary>
    public MilterStages Stages { get; init; } = MilterStages.All;
    /// <summary>Stages whose reply is always CONTINUE, so no reply is needed (NR_* flags, where offered).
    /// A handler that always continues at a stage lists it here to save a round trip.</summary>
    public MilterStages NoReplyStages { get; init; } = MilterStages.None;
    public MilterActions Actions { get; init; } = MilterActions.AddHeaders | MilterActions.ChangeHeaders;
    /// <summary>Ask for exact header bytes (SMFIP_HDR_LEADSPC) when the MTA offers it.</summary>
    public bool HeaderLeadingSpace { get; init; } = true;
    /// <summary>Macros to request per stage in the OPTNEG reply (needs SMFIF_SETSYMLIST from the MTA; ignored otherwise).</summary>
    public IReadOnlyDictionary<MacroStage, IReadOnlyList<string>> Macros { get; init; } = new Dictionary<MacroStage, IReadOnlyList<string>>();

    public static MilterCapabilities Default { get; } = new();
}
