namespace Milter.MailAuth.Dkim;

/// <summary>Told of every DKIM key lookup of a <see cref="DkimVerifier"/> (for metrics). Must be cheap and must not throw.</summary>
public interface IDkimKeyCacheObserver
{
    /// <param name="cacheHit">true when the <see cref="DkimKeyCache"/> had the key record's outcome, false when DNS is asked.</param>
    void KeyLookup(bool cacheHit);
}
