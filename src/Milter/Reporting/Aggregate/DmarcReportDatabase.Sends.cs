using System.Globalization;

namespace Milter.Reporting.Aggregate;

/// <summary>The send ledger and retention: the parts of the store that several hosts share safely.</summary>
internal sealed partial class DmarcReportDatabase
{
    /// <summary>
    /// Claims the sending of one report to one address for <paramref name="owner"/> until <paramref name="leaseUntil"/>:
    /// true when this caller may send it now; false when it was sent already or another run holds a lease that has not
    /// run out. One atomic statement (an upsert whose update applies only to an unsent, expired row), so of several runs
    /// at once, on one host or many, exactly one gets true. A run that dies mid-send leaves its lease to run out; the next
    /// run after that sends again (the one retry a crash costs), and a sent row is never claimed again.
    /// </summary>
    public bool TryClaim(string sendKey, string reportId, string policyDomain, string address, string owner, DateTimeOffset now,
        DateTimeOffset leaseUntil)
    {
        var claimed = Scalar("""
            INSERT INTO report_sends (send_key, report_id, policy_domain, address, owner, lease_until_ms, attempts, sent_ms)
            VALUES (@key, @id, @domain, @address, @owner, @until, 1, NULL)
            ON CONFLICT (send_key) DO UPDATE SET owner = excluded.owner, lease_until_ms = excluded.lease_until_ms,
                attempts = report_sends.attempts + 1
            WHERE report_sends.sent_ms IS NULL AND report_sends.lease_until_ms <= @now
            RETURNING owner;
            """, null, ("key", sendKey), ("id", reportId), ("domain", policyDomain), ("address", address), ("owner", owner),
            ("until", leaseUntil.ToUnixTimeMilliseconds()), ("now", now.ToUnixTimeMilliseconds()));
        return claimed is string o && o == owner;
    }

    /// <summary>Records a claimed send as done: no run sends it again.</summary>
    public void MarkSent(string sendKey, string owner, DateTimeOffset now) =>
        Execute("UPDATE report_sends SET sent_ms = @now WHERE send_key = @key AND owner = @owner;", null,
            ("now", now.ToUnixTimeMilliseconds()), ("key", sendKey), ("owner", owner));

    /// <summary>Gives a claim back after a failed send, so the next run retries at once.</summary>
    public void Release(string sendKey, string owner) =>
        Execute("UPDATE report_sends SET lease_until_ms = 0 WHERE send_key = @key AND owner = @owner AND sent_ms IS NULL;", null,
            ("key", sendKey), ("owner", owner));

    /// <summary>The ledger row of a send: whether it was sent, and how often it was claimed (null when never).</summary>
    public (bool Sent, int Attempts)? SendState(string sendKey)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT sent_ms, attempts FROM report_sends WHERE send_key = @key;";
        Add(command, "key", sendKey);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
            return null;
        return (!reader.IsDBNull(0), Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture));
    }

    /// <summary>Sets this connection up for <see cref="DeleteOlderThan"/> passes (<see cref="ReportStoreDialect.PrepareRetention"/>).</summary>
    public void PrepareRetention() => _dialect.PrepareRetention(_connection);

    /// <summary>
    /// Deletes at most <paramref name="batch"/> of the oldest evaluations stored before <paramref name="cutoff"/>, in one
    /// short statement (its own transaction), so writers wait at most for one batch; returns how many went. Call again
    /// until it returns less than <paramref name="batch"/>. Sent-ledger rows of that age go with the last batch.
    /// </summary>
    public int DeleteOlderThan(DateTimeOffset cutoff, int batch)
    {
        long cut = cutoff.ToUnixTimeMilliseconds();
        int deleted = Execute(
            "DELETE FROM evaluations WHERE id IN (SELECT id FROM evaluations WHERE time_ms < @cut ORDER BY time_ms LIMIT @n);", null,
            ("cut", cut), ("n", batch));
        if (deleted < batch)
            Execute("DELETE FROM report_sends WHERE sent_ms IS NOT NULL AND sent_ms < @cut;", null, ("cut", cut));
        return deleted;
    }
}
