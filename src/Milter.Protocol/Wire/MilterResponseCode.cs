namespace Milter.Protocol.Wire;

/// <summary>SMFIR_* response bytes, filter to MTA (sendmail include/libmilter/mfdef.h).</summary>
public enum MilterResponseCode : byte
{
    AddRecipient = (byte)'+',
    DeleteRecipient = (byte)'-',
    AddRecipientWithArgs = (byte)'2',
    Shutdown = (byte)'4',
    Accept = (byte)'a',
    ReplaceBody = (byte)'b',
    Continue = (byte)'c',
    Discard = (byte)'d',
    ChangeFrom = (byte)'e',
    ConnectionFail = (byte)'f',
    AddHeader = (byte)'h',
    InsertHeader = (byte)'i',
    ChangeHeader = (byte)'m',
    Progress = (byte)'p',
    Quarantine = (byte)'q',
    Reject = (byte)'r',
    Skip = (byte)'s',
    Tempfail = (byte)'t',
    ReplyCode = (byte)'y',
    /// <summary>Not an SMFIR_ code: the OPTNEG reply carries the command byte 'O'.</summary>
    OptNeg = (byte)'O',
}

public static class MilterResponseCodes
{
    public static bool IsDefined(byte code) => Enum.IsDefined((MilterResponseCode)code);

    /// <summary>True for the modification requests that only appear before the final reply at end of message.</summary>
    public static bool IsModification(MilterResponseCode code) => code is
        MilterResponseCode.AddRecipient or MilterResponseCode.DeleteRecipient or MilterResponseCode.AddRecipientWithArgs
        or MilterResponseCode.ReplaceBody or MilterResponseCode.ChangeFrom or MilterResponseCode.AddHeader
        or MilterResponseCode.InsertHeader or MilterResponseCode.ChangeHeader or MilterResponseCode.Quarantine;
}
