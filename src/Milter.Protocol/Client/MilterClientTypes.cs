using Milter.Protocol.Wire;

namespace Milter.Protocol.Client;

/// <summary>A filter's answer to one command. <see cref="Text"/> is set for REPLYCODE.</summary>
public sealed record MilterReply(MilterResponseCode Code, string? Text = null)
{
    public static MilterReply Continue { get; } = new(MilterResponseCode.Continue);
    public bool IsContinue => Code == MilterResponseCode.Continue;
    public override string ToString() => Text is null ? Code.ToString() : $"{Code}({Text})";
}

/// <summary>One modification request at end of message. <see cref="Index"/> is the INSHEADER index or the
/// CHGHEADER occurrence (0 otherwise); <see cref="Value"/> holds the header value, or the ESMTP arguments for
/// CHGFROM/ADDRCPT_PAR, or the QUARANTINE reason; <see cref="Bytes"/> holds REPLBODY data.</summary>
public sealed record MilterModification(MilterResponseCode Kind, int Index, string? Name, string? Value, byte[]? Bytes);

public sealed record EndOfMessageResult(MilterReply Reply, IReadOnlyList<MilterModification> Modifications);

/// <summary>One message for <see cref="MilterClient.SendMessageAsync"/>. Header values are the bytes after
/// the colon, as in the message (" value"); the client strips the leading space unless HDR_LEADSPC was negotiated, as Postfix does.</summary>
public sealed record MilterTransaction
{
    public required string Sender { get; init; }
    public IReadOnlyList<string> MailArgs { get; init; } = [];
    public required IReadOnlyList<string> Recipients { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];
    public ReadOnlyMemory<byte> Body { get; init; }
    public IReadOnlyDictionary<string, string>? MailMacros { get; init; }
    public IReadOnlyDictionary<string, string>? RcptMacros { get; init; }
    public IReadOnlyDictionary<string, string>? EndOfMessageMacros { get; init; }
}

/// <summary>Where a transaction stopped (the first non-continue reply, or "eom") and what the filter asked for.</summary>
public sealed record TransactionResult(string Stage, MilterReply Reply, IReadOnlyList<MilterModification> Modifications);

/// <summary>The filter broke the protocol (bad frame, unexpected reply).</summary>
public sealed class MilterProtocolException(string message) : IOException(message);
