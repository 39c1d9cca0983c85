namespace Milter.Protocol;

/// <summary>
/// End-of-message modifications. Only valid during <see cref="IMilterHandler.OnEndOfMessageAsync"/>;
/// every call outside it throws <see cref="InvalidOperationException"/>. The calls are queued and
/// written with the final response in one send. Each needs its action flag to have been negotiated
/// (otherwise <see cref="InvalidOperationException"/>).
/// </summary>
public interface IMessageModifier
{
    /// <summary>SMFIR_ADDHEADER: appended after the last header.</summary>
    void AddHeader(string name, string value);
    /// <summary>SMFIR_INSHEADER: index 0 is the top of the header.</summary>
    void InsertHeader(int index, string name, string value);
    /// <summary>SMFIR_CHGHEADER: the <paramref name="occurrence"/>-th (1-based) header of that name gets a new value.</summary>
    void ChangeHeader(string name, int occurrence, string value);
    /// <summary>SMFIR_CHGHEADER with an empty value. Delete several same-named headers from the last to the first.</summary>
    void DeleteHeader(string name, int occurrence);
    void Quarantine(string reason);
    void ChangeSender(string sender, string? esmtpArgs = null);
    void AddRecipient(string recipient, string? esmtpArgs = null);
    void DeleteRecipient(string recipient);
    void ReplaceBody(ReadOnlyMemory<byte> body);
    /// <summary>Sends SMFIR_PROGRESS now (keep-alive during slow work at end of message).</summary>
    ValueTask ProgressAsync(CancellationToken cancellationToken);
}
