using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>
/// The <see cref="IMessageModifier"/> of one session. Modifications are encoded straight into the
/// pending end-of-message batch (one pooled buffer); the session appends the final reply and sends the
/// batch in one write. Outside end of message every call throws <see cref="InvalidOperationException"/>.
/// </summary>
internal sealed class MessageModifier : IMessageModifier
{
    private readonly FrameBuilder _batch;
    private readonly Func<CancellationToken, ValueTask> _sendProgress;
    private MilterActions _actions;
    private bool _active;

    public MessageModifier(FrameBuilder batch, Func<CancellationToken, ValueTask> sendProgress)
    {
        _batch = batch;
        _sendProgress = sendProgress;
    }

    public int Count { get; private set; }

    /// <summary>Opens the end-of-message window with the negotiated actions; clears the batch.</summary>
    public void Begin(MilterActions negotiatedActions)
    {
        _batch.Reset();
        Count = 0;
        _actions = negotiatedActions;
        _active = true;
    }

    /// <summary>Closes the window; later calls throw.</summary>
    public void Close() => _active = false;

    public void AddHeader(string name, string value)
    {
        Check(MilterActions.AddHeaders, nameof(AddHeader));
        CheckHeaderName(name);
        Frame(MilterResponseCode.AddHeader, b => b.WriteCString(name).WriteCString(value));
    }

    public void InsertHeader(int index, string name, string value)
    {
        Check(MilterActions.AddHeaders, nameof(InsertHeader));
        CheckHeaderName(name);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        Frame(MilterResponseCode.InsertHeader, b => b.WriteUInt32((uint)index).WriteCString(name).WriteCString(value));
    }

    public void ChangeHeader(string name, int occurrence, string value)
    {
        Check(MilterActions.ChangeHeaders, nameof(ChangeHeader));
        CheckHeaderName(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(occurrence, 1);
        Frame(MilterResponseCode.ChangeHeader, b => b.WriteUInt32((uint)occurrence).WriteCString(name).WriteCString(value));
    }

    public void DeleteHeader(string name, int occurrence) => ChangeHeader(name, occurrence, string.Empty);

    public void Quarantine(string reason)
    {
        Check(MilterActions.Quarantine, nameof(Quarantine));
        Frame(MilterResponseCode.Quarantine, b => b.WriteCString(reason));
    }

    public void ChangeSender(string sender, string? esmtpArgs = null)
    {
        Check(MilterActions.ChangeFrom, nameof(ChangeSender));
        ArgumentException.ThrowIfNullOrEmpty(sender);
        Frame(MilterResponseCode.ChangeFrom, b =>
        {
            b.WriteCString(sender);
            if (!string.IsNullOrEmpty(esmtpArgs)) b.WriteCString(esmtpArgs);
        });
    }

    public void AddRecipient(string recipient, string? esmtpArgs = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(recipient);
        if (string.IsNullOrEmpty(esmtpArgs))
        {
            Check(MilterActions.AddRecipient, nameof(AddRecipient));
            Frame(MilterResponseCode.AddRecipient, b => b.WriteCString(recipient));
        }
        else
        {
            Check(MilterActions.AddRecipientWithArgs, nameof(AddRecipient) + " with ESMTP arguments");
            Frame(MilterResponseCode.AddRecipientWithArgs, b => b.WriteCString(recipient).WriteCString(esmtpArgs));
        }
    }

    public void DeleteRecipient(string recipient)
    {
        Check(MilterActions.DeleteRecipient, nameof(DeleteRecipient));
        ArgumentException.ThrowIfNullOrEmpty(recipient);
        Frame(MilterResponseCode.DeleteRecipient, b => b.WriteCString(recipient));
    }

    /// <summary>SMFIR_REPLBODY, split into frames of at most 65535 bytes (MILTER_CHUNK_SIZE).</summary>
    public void ReplaceBody(ReadOnlyMemory<byte> body)
    {
        Check(MilterActions.ChangeBody, nameof(ReplaceBody));
        var span = body.Span;
        do
        {
            var n = Math.Min(span.Length, WireConstants.ChunkSize);
            _batch.Begin(MilterResponseCode.ReplaceBody).WriteBytes(span[..n]).End();
            Count++;
            span = span[n..];
        }
        while (!span.IsEmpty);
    }

    public ValueTask ProgressAsync(CancellationToken cancellationToken)
    {
        if (!_active) throw new InvalidOperationException("ProgressAsync is only valid during end of message");
        return _sendProgress(cancellationToken);
    }

    private void Check(MilterActions needed, string what)
    {
        if (!_active)
            throw new InvalidOperationException($"{what} is only allowed during end of message (OnEndOfMessageAsync)");
        if ((_actions & needed) != needed)
            throw new InvalidOperationException($"{what} needs the {needed} action, which was not negotiated (negotiated: {_actions})");
    }

    private static void CheckHeaderName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        foreach (var c in name)
            if (c <= ' ' || c >= 127 || c == ':')
                throw new ArgumentException($"invalid header name '{name}'", nameof(name));
    }

    private void Frame(MilterResponseCode code, Action<FrameBuilder> write)
    {
        _batch.Begin(code);
        try
        {
            write(_batch);
            if (_batch.CurrentFrameLength - 1 > WireConstants.MaxReplyDataSize)
                throw new ArgumentException($"{code} request is larger than {WireConstants.MaxReplyDataSize} bytes");
        }
        catch
        {
            _batch.Cancel();
            throw;
        }
        _batch.End();
        Count++;
    }
}
