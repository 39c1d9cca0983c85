using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Dkim;

/// <summary>Fetches and parses one key record (RFC 6376 6.1.2) and maps DNS outcomes to DKIM results.</summary>
public static class DkimKeyRecordLookup
{
    /// <summary>Queries TXT at <paramref name="name"/>. NXDOMAIN or no TXT record: permerror "no key for
    /// signature"; several records: permerror (RFC 6376 allows picking one, but an ambiguous selector is a
    /// publishing error and accepting any of them would be arbitrary); timeout and server failures: temperror.
    /// Throws only <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires.</summary>
    public static async Task<DkimKeyRecordResult> FetchAsync(IDnsResolver resolver, string name,
        CancellationToken cancellationToken)
    {
        DnsAnswer<string> answer;
        try
        {
            answer = await resolver.GetTxtAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return DkimKeyRecordResult.TempError("DNS error");
        }
        return answer.Status switch
        {
            DnsStatus.NxDomain => DkimKeyRecordResult.PermError("no key for signature"),
            DnsStatus.InvalidName => DkimKeyRecordResult.PermError("key record name is not a valid domain name"),
            DnsStatus.Timeout => DkimKeyRecordResult.TempError("DNS timeout"),
            DnsStatus.ServerFailure => DkimKeyRecordResult.TempError("DNS server failure"),
            DnsStatus.Error => DkimKeyRecordResult.TempError("DNS error"),
            _ => answer.Records.Count switch
            {
                0 => DkimKeyRecordResult.PermError("no key for signature"),
                1 => DkimKeyRecord.Parse(answer.Records[0]),
                _ => DkimKeyRecordResult.PermError("several key records"),
            },
        };
    }
}
