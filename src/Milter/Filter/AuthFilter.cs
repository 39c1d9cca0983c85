using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Inbound;
using Milter.MailAuth.Message;
using Milter.MailAuth.Spf;
using Milter.Protocol;
using Milter.Reporting;
using Milter.Reporting.Aggregate;

namespace Milter.Filter;

/// <summary>
/// The only code that sees both the milter protocol and the mail-auth engines. One instance per
/// connection. Outbound mail (internal or authenticated client, From domain with a key) is DKIM-signed;
/// every message gets one Authentication-Results header at the top, and forged ones carrying our
/// authserv-id are removed. Internal failure means TEMPFAIL, never unsigned mail let through silently.
/// </summary>
internal sealed partial class AuthFilter : MilterHandlerBase, IDisposable
{
    public const int MaxHeaders = 1000;
    public const long MaxHeaderBytes = 1024 * 1024;
    /// <summary>Forged Authentication-Results fields one message may carry and still be cleaned; more and it is refused
    /// (<see cref="Configuration.VerificationSection.HeaderLimitAction"/>). Bounds the occurrence numbers kept per message.</summary>
    public const int MaxForgedAuthResults = 1000;
    private const string AuthResultsHeader = AuthenticationResultsWriter.HeaderName;

    private static readonly MilterCapabilities Caps = new()
    {
        Stages = MilterStages.Connect | MilterStages.Helo | MilterStages.MailFrom | MilterStages.Headers
                 | MilterStages.EndOfHeaders | MilterStages.Body,
        // MAIL only records the sender and starts SPF: no reply, so the MTA does not wait a round trip for it
        // (a handler failure there still answers TEMPFAIL at end of message).
        NoReplyStages = MilterStages.Connect | MilterStages.Helo | MilterStages.MailFrom | MilterStages.Headers
                        | MilterStages.EndOfHeaders | MilterStages.Body,
        Actions = MilterActions.AddHeaders | MilterActions.ChangeHeaders | MilterActions.Quarantine,
        HeaderLeadingSpace = true,
        Macros = new Dictionary<MacroStage, IReadOnlyList<string>>
        {
            // {client_resolve}: Sendmail (8.14+) sends a milter the macros it asks for here in place of its own
            // Milter.macros.connect, so a list there that names it is not enough. Postfix does not know it.
            [MacroStage.Connect] = ["j", "{daemon_name}", "{client_resolve}"],
            [MacroStage.MailFrom] = ["i", "{auth_type}", "{auth_authen}"],
            [MacroStage.EndOfMessage] = ["i"],
        },
    };

    private readonly FilterServicesHolder _holder;
    private readonly MessageState _state = new();
    private FilterServices _services;
    private OutboundSigning? _signing;
    private InboundMessage? _inbound;
    private InboundResult? _result;
    private AuthorDomain? _author;
    private long _endOfMessageStart;

    public AuthFilter(FilterServicesHolder holder)
    {
        _holder = holder;
        _services = holder.Current;
    }

    public override MilterCapabilities Capabilities =>
        _services.Options.Spf is { Enabled: true } spf && (spf.RejectOnFail || spf.TempfailOnTempError)
            ? CapsWithRcpt : Caps;

    /// <summary>With SPF enforcement on, RCPT needs a reply (550 or 451); otherwise the stage is skipped.</summary>
    private static readonly MilterCapabilities CapsWithRcpt = Caps with { Stages = Caps.Stages | MilterStages.RcptTo };

    private ILogger Logger => _services.Logger;

    public override ValueTask<MilterResponse> OnConnectAsync(MilterContext context, ConnectInfo info, CancellationToken cancellationToken)
    {
        _state.ClientName = info.HostName;
        _state.ClientAddress = info.IPAddress;
        // A host name counts for InternalHosts only when the MTA verified it. Postfix passes a forward-confirmed
        // name (else "[ip]"); Sendmail passes the PTR name even when it is forged and says so in {client_resolve}
        // (OK, FAIL, FORGED, TEMP); the connect macro list in Caps asks for it.
        _hostNameForInternalHosts = context.GetMacro("client_resolve") is { } resolve && !resolve.Equals("OK", StringComparison.OrdinalIgnoreCase)
            ? null : info.HostName;
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnHeloAsync(MilterContext context, string helo, CancellationToken cancellationToken)
    {
        _state.Helo = helo;
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnMailFromAsync(MilterContext context, string sender, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken)
    {
        ResetMessage();
        _services = _holder.Current; // one config snapshot per message
        _state.StartTimestamp = Stopwatch.GetTimestamp();
        _state.MailFrom = sender;
        _state.Fields = new UncappedFields(_services.Options.AuthservId!);
        _state.Authenticated = !string.IsNullOrEmpty(context.GetMacro("{auth_type}")) || !string.IsNullOrEmpty(context.GetMacro("{auth_authen}"));
        // Inbound: SPF starts now, so its DNS work overlaps the rest of the transaction.
        if (!IsOutbound()) _inbound = _services.Inbound.Start(Envelope);
        return MilterResponse.ContinueTask;
    }

    public override async ValueTask<MilterResponse> OnRcptToAsync(MilterContext context, string recipient, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken)
    {
        var spfOptions = _services.Options.Spf;
        if (_inbound is null || !(spfOptions.RejectOnFail || spfOptions.TempfailOnTempError)) return MilterResponse.Continue;
        var spf = await _inbound.GetSpfAsync(cancellationToken);
        if (spf is null) return MilterResponse.Continue;
        if (spf.Code == SpfResultCode.Fail && spfOptions.RejectOnFail)
        {
            // RFC 7372: 5.7.23 "SPF validation failed"; the explanation is the domain's own text (RFC 7208 8.4).
            var text = OneLine(spf.Explanation ?? $"SPF fail for {spf.Domain}");
            Logger.LogInformation("message from={MailFrom} client={Client}: rejected at RCPT: SPF fail for {Domain}",
                _state.MailFrom ?? "-", _state.ClientAddress?.ToString() ?? "-", spf.Domain);
            return MilterResponse.Reply("550", "5.7.23", text);
        }
        if (spf.Code == SpfResultCode.TempError && spfOptions.TempfailOnTempError)
            return MilterResponse.Reply("451", "4.7.24", OneLine($"SPF check of {spf.Domain} failed temporarily; try again later"));
        return MilterResponse.Continue;
    }

    private static string OneLine(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, 300));
        foreach (var ch in text)
        {
            if (sb.Length >= 300) break;
            sb.Append(ch is < ' ' or > '~' ? ' ' : ch);
        }
        return sb.ToString().Replace("%", "%%", StringComparison.Ordinal);
    }

    /// <summary>The SMTP facts of the current message.</summary>
    private SmtpEnvelope Envelope => new(_state.ClientAddress, _state.Helo, _state.MailFrom ?? "", _state.Authenticated);

    /// <summary>Whether the current message is outbound, decided once per message by <see cref="FilterServices.IsOutbound"/>.</summary>
    private bool IsOutbound() => _state.Outbound ??= _services.IsOutbound(Envelope, _hostNameForInternalHosts);

    /// <summary>The client's host name as InternalHosts may match it: null when the MTA said it is not verified.</summary>
    private string? _hostNameForInternalHosts;

    public override ValueTask<MilterResponse> OnHeaderAsync(MilterContext context, string name, byte[] rawValue, CancellationToken cancellationToken)
    {
        if (_state.StartTimestamp == 0) _state.StartTimestamp = Stopwatch.GetTimestamp();
        _state.HeaderBytes += name.Length + rawValue.Length;
        _state.HeaderFields++;
        var value = HeaderBytes.ToWireFolding(rawValue);
        // Every Authentication-Results and From field counts, stored or not (issue 13: a forgery placed past the cap).
        Fields.Add(name, value);
        if (_state.Headers.Count >= MaxHeaders || _state.HeaderBytes > MaxHeaderBytes)
        {
            _state.HeadersTruncated = true;
            return MilterResponse.ContinueTask;
        }
        _state.Headers.Add((name, value));
        _inbound?.AddHeader(name, value);
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnEndOfHeadersAsync(MilterContext context, CancellationToken cancellationToken)
    {
        if (IsOutbound()) StartSigning();
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnBodyChunkAsync(MilterContext context, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        _state.BodyBytes += chunk.Length;
        _signing?.AppendBody(chunk.Span);
        _inbound?.AppendBody(chunk.Span);
        return MilterResponse.ContinueTask;
    }

    public override async ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken cancellationToken)
    {
        _endOfMessageStart = Stopwatch.GetTimestamp();
        IReadOnlyList<SignedEntry> signed = [];
        MessageOutcome outcome;
        try
        {
            // A message that cannot be evaluated safely is not evaluated: no partial verdict reaches the logs or the DMARC reports.
            if (_inbound is not null && Unsafe() is null)
                _result = await _inbound.CompleteAsync(cancellationToken);
            outcome = Decide(context, modifier, ref signed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Internal failure: tempfail, never silent acceptance (of unsigned mail above all).
            Logger.LogError(e, "message queue={QueueId}: internal error, answering tempfail", context.GetMacro("i") ?? "-");
            outcome = MessageOutcome.Tempfail("internal error: " + e.Message, signed);
        }
        Finish(context, outcome);
        return outcome.Response;
    }

    /// <summary>The end of the message: signatures, forged Authentication-Results removed, DMARC enforcement, the
    /// Authentication-Results field; the modifications go to <paramref name="modifier"/>, the verdict is returned.</summary>
    private MessageOutcome Decide(MilterContext context, IMessageModifier modifier, ref IReadOnlyList<SignedEntry> signed)
    {
        var leadingSpace = (context.ProtocolFlags & MilterProtocolFlags.HeaderLeadingSpace) != 0;
        var authservId = _services.Options.AuthservId!;
        if (_signing is { MustSign: true } && _state.HeadersTruncated)
            return MessageOutcome.Tempfail($"cannot sign: more than {MaxHeaders} headers or {MaxHeaderBytes} header bytes");
        if (Unsafe() is { } unsafeReason)
            return HeaderLimit(context, unsafeReason);
        if (_signing is not null)
        {
            var signing = _signing.Complete();
            if (signing.Error is not null)
                return MessageOutcome.Tempfail("cannot sign: " + signing.Error);
            signed = signing.Signed;
            // Inserted at the top, in reverse so the first key's signature ends up first.
            for (var i = signing.Headers.Count - 1; i >= 0; i--)
                modifier.InsertHeader(0, signing.Headers[i].Name, HeaderBytes.ToMilterValue(signing.Headers[i].Value, leadingSpace));
        }

        // Forged Authentication-Results with our authserv-id, decided as each field arrived (all of them, past
        // the storage cap too): delete them, the last one first (Postfix renumbers after each delete).
        var forged = Fields.Forged;
        foreach (var occurrence in forged)
            modifier.DeleteHeader(AuthResultsHeader, occurrence);

        var verdict = Verdict.Continue;
        if (_result is { } inbound)
        {
            if (DmarcRejection(inbound) is { } rejected)
                return new MessageOutcome(rejected, Verdict.Reject);
            if (DmarcQuarantine(context, inbound) is { } reason)
            {
                modifier.Quarantine(reason);
                verdict = Verdict.Quarantine;
            }
            if (_services.Options.Spf.AddReceivedSpfHeader && inbound.Spf is { } spfResult)
                modifier.InsertHeader(0, "Received-SPF", HeaderBytes.ToMilterValue(ReceivedSpfHeader.Build(spfResult, authservId), leadingSpace));
        }

        // RFC 8601 2.2: "none" when no method was applied (outbound mail).
        var value = _result?.AuthenticationResults ?? AuthenticationResultsWriter.Format(authservId, []);
        modifier.InsertHeader(0, AuthResultsHeader, HeaderBytes.ToMilterValue(value, leadingSpace));
        if (_result is { } accepted && Seal(accepted, value) is { } sealError)
            return MessageOutcome.Tempfail("cannot seal: " + sealError, signed);
        if (_arcSet is { } arcSet)
        {
            foreach (var header in arcSet)
                modifier.InsertHeader(0, header.Name, HeaderBytes.ToMilterValue(header.Value, leadingSpace));
        }
        return new MessageOutcome(MilterResponse.Continue, verdict, AuthenticationResults: value) { Signed = signed, ForgedRemoved = forged.Count };
    }

    /// <summary>
    /// Why the message cannot be evaluated safely, or null. Inbound mail past the header cap: DKIM-Signature
    /// fields or signed fields past it were not seen, so a verdict (a pass above all) would rest on part of the
    /// header. Any mail with more forged Authentication-Results fields than can be tracked: they cannot all be removed.
    /// Outbound mail past the cap is fine when it is not signed: every Authentication-Results field was accounted for.
    /// </summary>
    private string? Unsafe()
    {
        if (Fields.ForgedOverflow)
            return $"more than {MaxForgedAuthResults} Authentication-Results fields claiming our authserv-id";
        if (_inbound is not null && _state.HeadersTruncated)
            return $"message header too large to check ({_state.HeaderFields} fields, {_state.HeaderBytes} bytes; the limit is {MaxHeaders} fields or {MaxHeaderBytes} bytes)";
        return null;
    }

    /// <summary>The answer to a message that cannot be evaluated safely (Verification:HeaderLimitAction): 552 5.3.4 or 452 4.3.4
    /// (RFC 3463 X.3.4 "message too big for system"), never CONTINUE with a partial view.</summary>
    private MessageOutcome HeaderLimit(MilterContext context, string reason)
    {
        var tempfail = _services.Options.Verification.HeaderLimitAction == VerificationSection.HeaderLimitTempfail;
        Logger.LogWarning("message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom}: {Verdict}: {Reason}",
            context.GetMacro("i") ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-", _state.MailFrom ?? "-",
            tempfail ? "tempfail" : "reject", reason);
        var text = OneLine("Message cannot be checked: " + reason);
        return tempfail
            ? new MessageOutcome(MilterResponse.Reply("452", "4.3.4", text), Verdict.Tempfail)
            : new MessageOutcome(MilterResponse.Reply("552", "5.3.4", text), Verdict.Reject);
    }

    /// <summary>
    /// DMARC enforcement, off unless configured: reject (550 5.7.1) mail without a single From address
    /// (RejectInvalidFrom), or a failing message whose disposition is reject (RejectOnFailure). Never on temperror
    /// (RFC 9989 5.3: mail is not rejected on a transient failure); outbound mail is not evaluated. Null to go on.
    /// </summary>
    private MilterResponse? DmarcRejection(InboundResult inbound)
    {
        var o = _services.Options.Dmarc;
        if (o.RejectInvalidFrom && inbound.Author is { Status: not AuthorStatus.Ok } author)
            return MilterResponse.Reply("550", "5.7.1", OneLine($"Message rejected: {author.Problem}; exactly one From address is required"));
        if (o.RejectOnFailure && inbound.DmarcOfAuthorDomain is { Result: DmarcResultCode.Fail, Disposition: DmarcDisposition.Reject } dmarc)
            return MilterResponse.Reply("550", "5.7.1",
                OneLine($"Message rejected by the DMARC policy of {dmarc.PolicyDomain ?? dmarc.AuthorDomain} (From domain {dmarc.AuthorDomain} is not authenticated)"));
        return null;
    }

    /// <summary>The quarantine reason for a failing message whose disposition is quarantine (QuarantineOnFailure, and
    /// the MTA allows the action), or null.</summary>
    private string? DmarcQuarantine(MilterContext context, InboundResult inbound)
        => _services.Options.Dmarc.QuarantineOnFailure && (context.Actions & MilterActions.Quarantine) != 0
           && inbound.DmarcOfAuthorDomain is { Result: DmarcResultCode.Fail, Disposition: DmarcDisposition.Quarantine } dmarc
            ? $"DMARC policy of {dmarc.PolicyDomain ?? dmarc.AuthorDomain}: quarantine"
            : null;

    public override ValueTask OnAbortAsync(MilterContext context, CancellationToken cancellationToken)
    {
        ResetMessage();
        return ValueTask.CompletedTask;
    }

    public override ValueTask OnCloseAsync(MilterContext context)
    {
        ResetMessage();
        return ValueTask.CompletedTask;
    }

    /// <summary>The server disposes the handler after the connection ends, also when OnCloseAsync was never
    /// reached or failed: the signing hashers and the inbound state of an unfinished message are released.</summary>
    public void Dispose() => ResetMessage();

    /// <summary>The RFC5322.From domain of the current message, parsed once from every From field, stored or not
    /// (complete from end of headers on; the cache is cleared with the message).</summary>
    private AuthorDomain Author => _author ??= Fields.Author();

    /// <summary>The current message's tracked fields (normally created at MAIL FROM with its config snapshot's authserv-id).</summary>
    private UncappedFields Fields => _state.Fields ??= new UncappedFields(_services.Options.AuthservId!);

    private void ResetMessage()
    {
        _author = null;
        _inbound?.Dispose();
        _inbound = null;
        _result = null;
        _signing?.Dispose();
        _signing = null;
        _state.ResetMessage();
    }

    /// <summary>At end of headers of outbound mail: signing starts when a key covers the author domain (PRODUCT.md "Who is signed").</summary>
    private void StartSigning()
    {
        var s = _services;
        if (s.Keys.RuleCount == 0) return;
        var author = Author;
        if (author.Status != AuthorStatus.Ok)
        {
            Logger.LogWarning("message from={MailFrom} client={Client}: not signed: {Problem}", _state.MailFrom ?? "-",
                _state.ClientAddress?.ToString() ?? "-", author.Problem);
            return;
        }
        IReadOnlyList<Milter.MailAuth.Dkim.DkimSigner> signers;
        try
        {
            signers = s.Keys.SignersFor(author.Address, author.Domain);
        }
        catch (ConfigException e)
        {
            // A rule matched but its key (a "%" key file) cannot be read: the message must not leave unsigned.
            _signing = new OutboundSigning([], e.Message);
            return;
        }
        if (signers.Count == 0)
        {
            Logger.LogDebug("message from={MailFrom}: no key for {Domain}, not signed", _state.MailFrom ?? "-", author.Domain);
            return;
        }
        _signing = new OutboundSigning(signers);
        foreach (var (name, value) in _state.Headers)
            _signing.AddHeader(name, value);
    }
}
