namespace Milter.Protocol.Wire;

/// <summary>SMFIC_* command bytes, MTA to filter (sendmail include/libmilter/mfdef.h).</summary>
public static class MilterCommand
{
    public const byte Abort = (byte)'A';
    public const byte Body = (byte)'B';
    public const byte Connect = (byte)'C';
    public const byte Macro = (byte)'D';
    public const byte BodyEob = (byte)'E';
    public const byte Helo = (byte)'H';
    public const byte QuitNewConnection = (byte)'K';
    public const byte Header = (byte)'L';
    public const byte Mail = (byte)'M';
    public const byte EndOfHeaders = (byte)'N';
    public const byte OptNeg = (byte)'O';
    public const byte Quit = (byte)'Q';
    public const byte Rcpt = (byte)'R';
    public const byte Data = (byte)'T';
    public const byte Unknown = (byte)'U';

    /// <summary>True for the bytes above.</summary>
    public static bool IsKnown(byte command) => command switch
    {
        Abort or Body or Connect or Macro or BodyEob or Helo or QuitNewConnection or Header or Mail
            or EndOfHeaders or OptNeg or Quit or Rcpt or Data or Unknown => true,
        _ => false,
    };

    /// <summary>The C name, for log lines ("SMFIC_HELO", or the byte in hex).</summary>
    public static string Name(byte command) => command switch
    {
        Abort => "SMFIC_ABORT",
        Body => "SMFIC_BODY",
        Connect => "SMFIC_CONNECT",
        Macro => "SMFIC_MACRO",
        BodyEob => "SMFIC_BODYEOB",
        Helo => "SMFIC_HELO",
        QuitNewConnection => "SMFIC_QUIT_NC",
        Header => "SMFIC_HEADER",
        Mail => "SMFIC_MAIL",
        EndOfHeaders => "SMFIC_EOH",
        OptNeg => "SMFIC_OPTNEG",
        Quit => "SMFIC_QUIT",
        Rcpt => "SMFIC_RCPT",
        Data => "SMFIC_DATA",
        Unknown => "SMFIC_UNKNOWN",
        _ => $"0x{command:x2}",
    };
}

/// <summary>SMFIA_* address families in SMFIC_CONNECT.</summary>
public static class MilterAddressFamily
{
    public const byte Unknown = (byte)'U';
    public const byte Unix = (byte)'L';
    public const byte Inet = (byte)'4';
    public const byte Inet6 = (byte)'6';
}
