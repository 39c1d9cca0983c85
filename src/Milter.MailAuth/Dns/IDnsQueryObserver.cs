namespace Milter.MailAuth.Dns;

/// <summary>Told of every query a resolver sent (not of answers a cache gave): its type, how it ended and how long it
/// took. For metrics; called on the query's own thread, so it must be cheap and must not throw.</summary>
public interface IDnsQueryObserver
{
    /// <param name="type">The query type in lower case: "txt", "a", "aaaa", "mx" or "ptr".</param>
    void QueryCompleted(string type, DnsStatus status, TimeSpan elapsed);
}
