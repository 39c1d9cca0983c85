namespace Milter.Protocol.Wire;

/// <summary>SMFIC_* command bytes, MTA to filter (sendmail include/libmilter/mfdef.h). What the session does with
/// each is its row in Session/CommandTable.cs; a byte added here without a row stops the program at start-up.</summary>
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
}

/// <summary>SMFIA_* address families in SMFIC_CONNECT.</summary>
public static class MilterAddressFamily
{
    public const byte Unknown = (byte)'U';
    public const byte Unix = (byte)'L';
    public const byte Inet = (byte)'4';
    public const byte Inet6 = (byte)'6';
}
