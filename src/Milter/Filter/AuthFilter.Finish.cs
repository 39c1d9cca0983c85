using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Milter.MailAuth.Dmarc;
using Milter.MailAuth.Inbound;
using Milter.MailAuth.Message;
using Milter.Protocol;
using Milter.Reporting;
using Milter.Reporting.Aggregate;

namespace Milter.Filter;

/// <summary>What happens once a message's outcome is known: one log line, the DMARC evaluation stored for aggregate
/// reports, the verification-log record, then the message state is reset for the next one on the connection.</summary>
internal sealed partial class AuthFilter
{
    private void Finish(MilterContext context, MessageOutcome outcome)
    {
        var elapsed = _state.StartTimestamp == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_state.StartTimestamp);
        var queueId = context.GetMacro("i");
        LogOutcome(queueId, outcome, elapsed);
        RecordMetrics(outcome);
        StoreDmarcEvaluation(outcome);
        WriteVerificationRecord(queueId, outcome, elapsed);
        ResetMessage();
    }

    private void LogOutcome(string? queueId, MessageOutcome outcome, TimeSpan elapsed)
    {
        if (outcome.Error is not null)
        {
            Logger.LogError(
                "message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom} verdict={Verdict} error=\"{Error}\" ms={Elapsed:F1}",
                queueId ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-", _state.MailFrom ?? "-",
                outcome.Verdict.ToKeyword(), outcome.Error, elapsed.TotalMilliseconds);
        }
        else if (Logger.IsEnabled(LogLevel.Information))
        {
            // Guarded: the arguments (joins, boxing) cost more than the filter's own work on a busy server.
            var signedText = outcome.Signed.Count == 0 ? "-" : string.Join(',', outcome.Signed.Select(x => $"{x.Domain}/{x.Selector}/{x.Algorithm}"));
            var clauses = _result?.Clauses;
            Logger.LogInformation(
                "message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom} verdict={Verdict} signed={Signed} results=\"{Results}\" forged_removed={Forged} body_bytes={BodyBytes} ms={Elapsed:F1}",
                queueId ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-", _state.MailFrom ?? "-", outcome.Verdict.ToKeyword(),
                signedText, clauses is null or { Count: 0 } ? "none" : string.Join(' ', clauses.Select(r => $"{r.Method}={r.Result}")),
                outcome.ForgedRemoved, _state.BodyBytes, elapsed.TotalMilliseconds);
        }
    }

    /// <summary>The message in the daemon's instruments: its verdict, the time its end of message took, its signatures
    /// and its verification results.</summary>
    private void RecordMetrics(MessageOutcome outcome)
    {
        if (_services.Metrics is not { } metrics) return;
        metrics.MessageFinished(IsOutbound(), outcome.Verdict.ToKeyword(), Stopwatch.GetElapsedTime(_endOfMessageStart));
        if (outcome.Verdict is Verdict.Continue or Verdict.Quarantine) metrics.Signed(outcome.Signed); // the message left with them
        if (_result is { } inbound) metrics.Verified(inbound.Clauses);
    }

    /// <summary>The DMARC evaluation of an author domain, for aggregate reports (RFC 9989 / RFC 7489 7.2).</summary>
    private void StoreDmarcEvaluation(MessageOutcome outcome)
    {
        if (_result is not { DmarcOfAuthorDomain: { } dmarc } inbound || _services.ReportStore is not { } store) return;
        // What was applied, when it differs from what the policy asked (record-only mode): a local_policy reason.
        var applied = outcome.Verdict.AppliedDisposition();
        store.TryEnqueue(DmarcEvaluationRecord.From(_services.Time.GetUtcNow(), _state.ClientAddress,
            inbound.Envelope.MailFromAddress, null, dmarc, inbound.Dkim, inbound.Spf, applied == dmarc.Disposition ? null : applied));
    }

    private void WriteVerificationRecord(string? queueId, MessageOutcome outcome, TimeSpan elapsed)
    {
        if (_services.VerificationLog is null && !Logger.IsEnabled(LogLevel.Debug)) return;
        var record = new VerificationRecord
        {
            Time = _services.Time.GetUtcNow(),
            QueueId = queueId,
            ClientAddress = _state.ClientAddress?.ToString(),
            ClientName = _state.ClientName,
            Helo = _state.Helo,
            MailFrom = _state.MailFrom,
            FromDomain = Author.Domain,
            Signed = outcome.Signed,
            Dkim = _result?.Dkim.Select(r => new DkimRecordEntry(r.ResultKeyword, r.Domain, r.Selector, r.Algorithm, r.HeaderI, r.Reason)).ToList() ?? [],
            Spf = _result?.Spf is { } s ? new SpfRecordEntry(s.Keyword, s.Domain, s.Explanation, s.Reason) : null,
            Dmarc = DmarcEntry(_result),
            AuthenticationResults = outcome.AuthenticationResults is null ? null : AuthResultsHeader + ":" + outcome.AuthenticationResults,
            Action = outcome.Verdict.ToKeyword(),
            ElapsedMs = elapsed.TotalMilliseconds,
        };
        _services.VerificationLog?.TryWrite(record);
        if (Logger.IsEnabled(LogLevel.Debug))
            Logger.LogDebug("verification {Record}", VerificationLog.ToJson(record));
    }

    /// <summary>Without a single author domain: permerror with no domain, policy or disposition.</summary>
    private static DmarcRecordEntry? DmarcEntry(InboundResult? inbound) => inbound?.Dmarc is not { } d ? null
        : inbound.Author.Status == AuthorStatus.Ok ? new DmarcRecordEntry(d.ResultKeyword, d.AuthorDomain, d.Policy?.ToKeyword(), d.Disposition.ToKeyword())
        : new DmarcRecordEntry("permerror", null, null, null);
}
