namespace Milter.MailAuth.Tests.Dkim;

internal sealed class FixedTimeProvider(long unixSeconds) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeSeconds(unixSeconds);
}
