namespace Milter.Protocol;

public enum MilterResponseKind
{
    Continue,
    Accept,
    Reject,
    Tempfail,
    Discard,
    /// <summary>No more body chunks, please (SMFIR_SKIP; sent as CONTINUE when the MTA did not offer SKIP).</summary>
    Skip,
    /// <summary>A custom SMTP reply (SMFIR_REPLYCODE), e.g. "550 5.7.1 Rejected by DMARC policy".</summary>
    ReplyCode,
}

/// <summary>The answer of a handler to one stage.</summary>
public sealed class MilterResponse
{
    private MilterResponse(MilterResponseKind kind, string? replyText) { Kind = kind; ReplyText = replyText; }

    public MilterResponseKind Kind { get; }
    /// <summary>For <see cref="MilterResponseKind.ReplyCode"/>: "ddd x.y.z text".</summary>
    public string? ReplyText { get; }

    public static MilterResponse Continue { get; } = new(MilterResponseKind.Continue, null);
    public static MilterResponse Accept { get; } = new(MilterResponseKind.Accept, null);
    public static MilterResponse Reject { get; } = new(MilterResponseKind.Reject, null);
    public static MilterResponse Tempfail { get; } = new(MilterResponseKind.Tempfail, null);
    public static MilterResponse Discard { get; } = new(MilterResponseKind.Discard, null);
    public static MilterResponse Skip { get; } = new(MilterResponseKind.Skip, null);
    public static ValueTask<MilterResponse> ContinueTask => new(Continue);

    /// <summary>A custom reply: a 4xx or 5xx code, an enhanced status code and a text, e.g. ("550", "5.7.1", "Rejected").</summary>
    public static MilterResponse Reply(string code, string enhancedCode, string text)
    {
        if (code.Length != 3 || (code[0] != '4' && code[0] != '5') || !code.All(char.IsAsciiDigit))
            throw new ArgumentException("reply code must be 4xx or 5xx", nameof(code));
        if (text.Contains('\r') || text.Contains('\n') || text.Contains('\0'))
            throw new ArgumentException("reply text must be one line", nameof(text));
        return new(MilterResponseKind.ReplyCode, $"{code} {enhancedCode} {text}");
    }

    public override string ToString() => Kind == MilterResponseKind.ReplyCode ? $"ReplyCode({ReplyText})" : Kind.ToString();
}
