using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.MailAuth.AuthenticationResults;
using Milter.MailAuth.Dmarc;
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
internal sealed class AuthFilter : MilterHandlerBase
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
            [MacroStage.Connect] = ["j", "{daemon_name}"],
            [MacroStage.MailFrom] = ["i", "{auth_type}", "{auth_authen}"],
            [MacroStage.EndOfMessage] = ["i"],
        },
    };

    private readonly FilterServicesHolder _holder;
    private readonly MessageState _state = new();
    private FilterServices _services;
    private OutboundSigning? _signing;
    private InboundChecks? _inbound;
    private AuthorDomain? _author;
    private string _verdict = "continue";

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
        if (!IsOutboundClient())
        {
            // Inbound: SPF starts now, so its DNS work overlaps the rest of the transaction.
            _inbound = new InboundChecks(_services);
            _inbound.StartSpf(_state.ClientAddress, sender, _state.Helo);
        }
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

    /// <summary>Mail from an internal host, or authenticated when SignAuthenticated is on, is outbound:
    /// it may be signed, and is not checked (PRODUCT.md "Who is signed").</summary>
    private bool IsOutboundClient()
        => _services.InternalHosts.Contains(_state.ClientAddress)
           || (_state.Authenticated && _services.Options.Signing.SignAuthenticated);

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
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnEndOfHeadersAsync(MilterContext context, CancellationToken cancellationToken)
    {
        if (_inbound is not null) _inbound.StartDkim(_state.Headers, Author);
        else StartSigningIfOutbound();
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
        // A message that cannot be evaluated safely is not evaluated: no partial verdict reaches the logs or the DMARC reports.
        if (_inbound is not null && Unsafe() is null)
            await _inbound.CompleteAsync(cancellationToken);
        return EndOfMessage(context, modifier);
    }

    private MilterResponse EndOfMessage(MilterContext context, IMessageModifier modifier)
    {
        var leadingSpace = (context.ProtocolFlags & MilterProtocolFlags.HeaderLeadingSpace) != 0;
        var authservId = _services.Options.AuthservId!;
        IReadOnlyList<SignedEntry> signed = [];
        var fields = Fields;
        try
        {
            if (_signing is { MustSign: true } && _state.HeadersTruncated)
                return Finish(context, MilterResponse.Tempfail, "tempfail", signed, 0, $"cannot sign: more than {MaxHeaders} headers or {MaxHeaderBytes} header bytes");
            if (Unsafe() is { } unsafeReason)
                return HeaderLimit(context, unsafeReason);
            if (_signing is not null)
            {
                var outcome = _signing.Complete();
                if (outcome.Error is not null)
                    return Finish(context, MilterResponse.Tempfail, "tempfail", signed, 0, "cannot sign: " + outcome.Error);
                signed = outcome.Signed;
                // Inserted at the top, in reverse so the first key's signature ends up first.
                for (var i = outcome.Headers.Count - 1; i >= 0; i--)
                    modifier.InsertHeader(0, outcome.Headers[i].Name, HeaderBytes.ToMilterValue(outcome.Headers[i].Value, leadingSpace));
            }

            // Forged Authentication-Results with our authserv-id, decided as each field arrived (all of them, past
            // the storage cap too): delete them, the last one first (Postfix renumbers after each delete).
            var forged = fields.Forged;
            foreach (var occurrence in forged)
                modifier.DeleteHeader(AuthResultsHeader, occurrence);

            var clauses = _inbound?.AuthResults() ?? [];
            if (_inbound is not null && DmarcEnforcement(context, modifier, clauses) is { } enforced)
                return enforced;

            if (_inbound is not null && _services.Options.Spf.AddReceivedSpfHeader && _inbound.SpfResult is { } spfResult)
                modifier.InsertHeader(0, "Received-SPF", HeaderBytes.ToMilterValue(ReceivedSpfHeader.Build(spfResult, authservId), leadingSpace));

            // RFC 8601 2.2: "none" when no method was applied (outbound mail).
            var value = AuthenticationResultsWriter.Format(authservId, clauses);
            modifier.InsertHeader(0, AuthResultsHeader, HeaderBytes.ToMilterValue(value, leadingSpace));
            return Finish(context, MilterResponse.Continue, _verdict, signed, forged.Count, null, value, clauses);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Internal failure: tempfail, never silent acceptance (of unsigned mail above all).
            Logger.LogError(e, "message queue={QueueId}: internal error, answering tempfail", context.GetMacro("i") ?? "-");
            return Finish(context, MilterResponse.Tempfail, "tempfail", signed, 0, "internal error: " + e.Message);
        }
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
    private MilterResponse HeaderLimit(MilterContext context, string reason)
    {
        var tempfail = _services.Options.Verification.HeaderLimitAction == VerificationSection.HeaderLimitTempfail;
        Logger.LogWarning("message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom}: {Verdict}: {Reason}",
            context.GetMacro("i") ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-", _state.MailFrom ?? "-",
            tempfail ? "tempfail" : "reject", reason);
        var text = OneLine("Message cannot be checked: " + reason);
        return tempfail
            ? Finish(context, MilterResponse.Reply("452", "4.3.4", text), "tempfail", [], 0, null)
            : Finish(context, MilterResponse.Reply("552", "5.3.4", text), "reject", [], 0, null);
    }

    /// <summary>
    /// DMARC enforcement, off unless configured: reject (550 5.7.1) a failing message whose disposition is reject,
    /// quarantine one whose disposition is quarantine. Never on temperror (RFC 9989 5.3: mail is not rejected
    /// on a transient failure) and never for outbound mail (not evaluated). Returns null to continue.
    /// </summary>
    private MilterResponse? DmarcEnforcement(MilterContext context, IMessageModifier modifier, IReadOnlyList<AuthMethodResult> clauses)
    {
        var o = _services.Options.Dmarc;
        var author = _inbound!.Author;
        if (o.RejectInvalidFrom && author is { Status: not AuthorStatus.Ok })
            return Finish(context, MilterResponse.Reply("550", "5.7.1", OneLine($"Message rejected: {author.Problem}; exactly one From address is required")),
                "reject", [], 0, null, clauses: clauses);
        if (_inbound.DmarcResult is not { Result: DmarcResultCode.Fail } dmarc) return null;
        if (dmarc.Disposition == DmarcDisposition.Reject && o.RejectOnFailure)
            return Finish(context, MilterResponse.Reply("550", "5.7.1",
                OneLine($"Message rejected by the DMARC policy of {dmarc.PolicyDomain ?? dmarc.AuthorDomain} (From domain {dmarc.AuthorDomain} is not authenticated)")),
                "reject", [], 0, null, clauses: clauses);
        if (dmarc.Disposition == DmarcDisposition.Quarantine && o.QuarantineOnFailure
            && (context.Actions & MilterActions.Quarantine) != 0)
        {
            modifier.Quarantine($"DMARC policy of {dmarc.PolicyDomain ?? dmarc.AuthorDomain}: quarantine");
            _verdict = "quarantine";
        }
        return null;
    }

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
        _verdict = "continue";
        _signing?.Dispose();
        _signing = null;
        _state.ResetMessage();
    }

    /// <summary>Decides at end of headers whether this message is outbound mail to sign (PRODUCT.md "Who is signed").</summary>
    private void StartSigningIfOutbound()
    {
        var s = _services;
        var internalClient = s.InternalHosts.Contains(_state.ClientAddress);
        var authenticated = _state.Authenticated && s.Options.Signing.SignAuthenticated;
        if (!internalClient && !authenticated) return;
        if (s.Keys.Count == 0) return;
        var author = Author;
        if (author.Status != AuthorStatus.Ok)
        {
            Logger.LogWarning("message from={MailFrom} client={Client}: not signed: {Problem}", _state.MailFrom ?? "-",
                _state.ClientAddress?.ToString() ?? "-", author.Problem);
            return;
        }
        var signers = s.Keys.SignersFor(author.Domain);
        if (signers.Count == 0)
        {
            Logger.LogDebug("message from={MailFrom}: no key for {Domain}, not signed", _state.MailFrom ?? "-", author.Domain);
            return;
        }
        _signing = new OutboundSigning(signers);
        foreach (var (name, value) in _state.Headers)
            _signing.AddHeader(name, value);
    }

    private MilterResponse Finish(MilterContext context, MilterResponse response, string verdict,
        IReadOnlyList<SignedEntry> signed, int forgedRemoved, string? error, string? authResults = null,
        IReadOnlyList<AuthMethodResult>? clauses = null)
    {
        var elapsed = _state.StartTimestamp == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_state.StartTimestamp);
        var queueId = context.GetMacro("i");
        if (error is not null)
        {
            Logger.LogError(
                "message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom} verdict={Verdict} error=\"{Error}\" ms={Elapsed:F1}",
                queueId ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-", _state.MailFrom ?? "-", verdict, error,
                elapsed.TotalMilliseconds);
        }
        else if (Logger.IsEnabled(LogLevel.Information))
        {
            // Guarded: the arguments (joins, boxing) cost more than the filter's own work on a busy server.
            var signedText = signed.Count == 0 ? "-" : string.Join(',', signed.Select(x => $"{x.Domain}/{x.Selector}/{x.Algorithm}"));
            Logger.LogInformation(
                "message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom} verdict={Verdict} signed={Signed} results=\"{Results}\" forged_removed={Forged} body_bytes={BodyBytes} ms={Elapsed:F1}",
                queueId ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-", _state.MailFrom ?? "-", verdict, signedText,
                clauses is null or { Count: 0 } ? "none" : string.Join(' ', clauses.Select(r => $"{r.Method}={r.Result}")), forgedRemoved, _state.BodyBytes, elapsed.TotalMilliseconds);
        }
        if (_inbound?.DmarcResult is { } dmarcResult && _services.ReportStore is { } store)
        {
            // What was applied, when it differs from what the policy asked (record-only mode): a local_policy reason.
            var applied = verdict switch { "reject" => DmarcDisposition.Reject, "quarantine" => DmarcDisposition.Quarantine, _ => DmarcDisposition.None };
            store.TryEnqueue(DmarcEvaluationRecord.From(_services.Time.GetUtcNow(), _state.ClientAddress,
                InboundChecks.MailFromAddress(_state.MailFrom), null, dmarcResult, _inbound.DkimResults, _inbound.SpfResult,
                applied == dmarcResult.Disposition ? null : applied));
        }
        if (_services.VerificationLog is null && !Logger.IsEnabled(LogLevel.Debug))
        {
            ResetMessage();
            return response;
        }
        var record = new VerificationRecord
        {
            Time = _services.Time.GetUtcNow(),
            QueueId = queueId,
            ClientAddress = _state.ClientAddress?.ToString(),
            ClientName = _state.ClientName,
            Helo = _state.Helo,
            MailFrom = _state.MailFrom,
            FromDomain = Author.Domain,
            Signed = signed,
            Dkim = _inbound?.DkimEntries() ?? [],
            Spf = _inbound?.SpfEntry(),
            Dmarc = _inbound?.DmarcEntry(),
            AuthenticationResults = authResults is null ? null : AuthResultsHeader + ":" + authResults,
            Action = verdict,
            ElapsedMs = elapsed.TotalMilliseconds,
        };
        _services.VerificationLog?.TryWrite(record);
        if (Logger.IsEnabled(LogLevel.Debug))
            Logger.LogDebug("verification {Record}", VerificationLog.ToJson(record));
        ResetMessage();
        return response;
    }
}
