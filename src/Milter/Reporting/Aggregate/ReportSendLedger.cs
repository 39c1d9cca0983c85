namespace Milter.Reporting.Aggregate;

/// <summary>
/// Sends each report to each address once, however many `milter report` runs (on however many hosts) work on one store:
/// a run claims a send in the store's report_sends table (<see cref="DmarcReportDatabase.TryClaim"/>: a lease of
/// <see cref="Lease"/>), mails it, then records it sent. A run that dies mid-send leaves a lease that runs out, and the
/// next run sends again: at most that one retry, never a duplicate past it.
/// </summary>
internal sealed class ReportSendLedger(DmarcReportDatabase db, TimeProvider time)
{
    /// <summary>How long a claim keeps other runs off a send: well past the SMTP timeouts of one send.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);

    /// <summary>This run, in the ledger: host, process and a random part (two runs of one host are two owners).</summary>
    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    public sealed record Claim(string SendKey);

    /// <summary>The key of one report to one address. The report_id names the organisation, the domain and the period
    /// (<see cref="AggregateReportBuilder.ReportId"/>), never the host, so every host's run finds the same row.</summary>
    public static string SendKey(AggregateReport report, string address) => $"{report.ReportId} {address.ToLowerInvariant()}";

    /// <summary>The claim to send, or null when the report was sent to the address already or another run holds it.</summary>
    public Claim? TryClaim(AggregateReport report, string address)
    {
        var key = SendKey(report, address);
        var now = time.GetUtcNow();
        return db.TryClaim(key, report.ReportId, report.Policy.Domain, address, _owner, now, now + Lease) ? new Claim(key) : null;
    }

    public void Sent(Claim claim) => db.MarkSent(claim.SendKey, _owner, time.GetUtcNow());

    /// <summary>After a failed send: the next run may retry at once. Never throws (the lease runs out anyway).</summary>
    public void Release(Claim claim)
    {
        try
        {
            db.Release(claim.SendKey, _owner);
        }
        catch (Exception e) when (DmarcReportStore.IsStorageError(e))
        {
            // The lease runs out by itself.
        }
    }
}
