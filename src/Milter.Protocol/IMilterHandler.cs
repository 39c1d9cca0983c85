namespace Milter.Protocol;

/// <summary>
/// The filter side of a milter session: one method per SMTP stage. A handler instance serves one
/// connection (the server creates one per connection through its factory), so it may keep state in
/// fields. Body chunks are only valid during the call. Modifications are only possible at end of
/// message, through the <see cref="IMessageModifier"/> passed to <see cref="OnEndOfMessageAsync"/>.
/// Exceptions thrown by a handler become TEMPFAIL for the message (never silent acceptance).
/// </summary>
public interface IMilterHandler
{
    /// <summary>What the handler needs: the stages it handles, the actions it may take, the macros it wants.
    /// Read once per connection, at option negotiation.</summary>
    MilterCapabilities Capabilities { get; }

    /// <summary>SMFIC_CONNECT. After SMFIC_QUIT_NC (a new SMTP session on the same milter connection) it is
    /// called again on the same handler; reset per-SMTP-session state here.</summary>
    ValueTask<MilterResponse> OnConnectAsync(MilterContext context, ConnectInfo info, CancellationToken cancellationToken);
    ValueTask<MilterResponse> OnHeloAsync(MilterContext context, string helo, CancellationToken cancellationToken);
    /// <param name="sender">The envelope sender as the MTA sent it, angle brackets included (e.g. "&lt;a@b&gt;" or "&lt;&gt;").</param>
    ValueTask<MilterResponse> OnMailFromAsync(MilterContext context, string sender, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken);
    ValueTask<MilterResponse> OnRcptToAsync(MilterContext context, string recipient, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken);
    ValueTask<MilterResponse> OnDataAsync(MilterContext context, CancellationToken cancellationToken);
    /// <summary>One header. <paramref name="rawValue"/> holds the exact value bytes (with HDR_LEADSPC
    /// negotiated: everything after the colon, leading space and folding line breaks included). Postfix sends the
    /// folding line breaks as bare LF ("a\n b", observed with Postfix 3.x), so a handler that needs the wire bytes must restore CRLF. It is a copy the handler may keep.</summary>
    ValueTask<MilterResponse> OnHeaderAsync(MilterContext context, string name, byte[] rawValue, CancellationToken cancellationToken);
    ValueTask<MilterResponse> OnEndOfHeadersAsync(MilterContext context, CancellationToken cancellationToken);
    /// <summary>A body chunk (CRLF line ends, at most 64 KiB). Only valid during the call.</summary>
    ValueTask<MilterResponse> OnBodyChunkAsync(MilterContext context, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken);
    /// <summary>End of message: the only place to modify it. The final response is sent after the modifications, in one write.</summary>
    ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken cancellationToken);
    /// <summary>The MTA aborted the current message (the connection stays; a new MAIL may follow). Only called
    /// while a message is in progress (an SMFIC_ABORT between messages is not passed on).</summary>
    ValueTask OnAbortAsync(MilterContext context, CancellationToken cancellationToken);
    ValueTask<MilterResponse> OnUnknownAsync(MilterContext context, string command, CancellationToken cancellationToken);
    /// <summary>The connection ended (QUIT, EOF, error or shutdown). Always called once.</summary>
    ValueTask OnCloseAsync(MilterContext context);
}
