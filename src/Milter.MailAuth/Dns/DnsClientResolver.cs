using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace Milter.MailAuth.Dns;

/// <summary>
/// <see cref="IDnsResolver"/> over the DnsClient package: UDP with TCP fallback on truncation,
/// the configured servers only (the system resolvers only when none are configured), no internal cache
/// (wrap in <see cref="CachingDnsResolver"/>). Failures become <see cref="DnsStatus"/> values, never exceptions,
/// except cancellation requested by the caller. At most <see cref="DnsResolverOptions.MaxRecordsPerAnswer"/>
/// records are kept from an answer.
/// </summary>
public sealed class DnsClientResolver : IDnsResolver
{
    private readonly LookupClient _client;
    private readonly int _maxRecords;

    public DnsClientResolver(DnsResolverOptions options)
    {
        options.ThrowIfInvalid();
        _maxRecords = options.MaxRecordsPerAnswer;
        LookupClientOptions clientOptions;
        if (options.Servers.Count > 0)
        {
            var servers = options.Servers.Select(s =>
            {
                // ThrowIfInvalid above has parsed every server once already.
                return DnsResolverOptions.TryParseServer(s, out var endPoint, out var error)
                    ? new NameServer(endPoint!)
                    : throw new InvalidOperationException($"DNS server \"{s}\": {error}");
            }).ToArray();
            clientOptions = new LookupClientOptions(servers) { AutoResolveNameServers = false };
        }
        else
        {
            clientOptions = new LookupClientOptions();
        }
        clientOptions.Timeout = options.Timeout;
        clientOptions.Retries = options.Retries;
        clientOptions.UseTcpFallback = true;
        clientOptions.UseTcpOnly = false;
        clientOptions.UseCache = false;
        clientOptions.ThrowDnsErrors = false;
        clientOptions.ContinueOnDnsError = true;
        clientOptions.ContinueOnEmptyResponse = false;
        clientOptions.Recursion = true;
        _client = new LookupClient(clientOptions);
    }

    /// <summary>The resolver the daemon uses: a <see cref="DnsClientResolver"/> behind a
    /// <see cref="CachingDnsResolver"/> (no cache when <see cref="DnsResolverOptions.CacheEntries"/> is 0); with an
    /// <paramref name="observer"/>, every query sent (cache misses) is reported to it.</summary>
    public static IDnsResolver CreateCached(DnsResolverOptions options, TimeProvider time, IDnsQueryObserver? observer = null)
    {
        IDnsResolver client = new DnsClientResolver(options);
        if (observer is not null) client = new ObservedDnsResolver(client, observer);
        return options.CacheEntries == 0 ? client : new CachingDnsResolver(client, options, time);
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
        QueryAsync(name, QueryType.TXT,
            records => records.TxtRecords().Select(r => string.Concat(r.Text)), cancellationToken);

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
        ipv6
            ? QueryAsync(name, QueryType.AAAA, records => records.AaaaRecords().Select(r => r.Address), cancellationToken)
            : QueryAsync(name, QueryType.A, records => records.ARecords().Select(r => r.Address), cancellationToken);

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        QueryAsync(name, QueryType.MX, records => records.MxRecords()
            .Select(r => new MxRecord(r.Preference, DnsNames.TrimTrailingDot(r.Exchange.Value))), cancellationToken);

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        QueryAsync(DnsNames.ReverseName(address), QueryType.PTR, records => records.PtrRecords()
            .Select(r => DnsNames.TrimTrailingDot(r.PtrDomainName.Value)), cancellationToken);

    private async Task<DnsAnswer<T>> QueryAsync<T>(string name, QueryType type,
        Func<IEnumerable<DnsResourceRecord>, IEnumerable<T>> select, CancellationToken cancellationToken)
    {
        if (QueryName(name) is not { } queryName)
            return new DnsAnswer<T>(DnsStatus.InvalidName, Array.Empty<T>(),
                $"{type} {name}: not a valid domain name ({DomainName.Problem(name, DomainNameKind.Query) ?? "cannot be sent as it is"})");
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(new DnsQuestion(queryName, type, QueryClass.IN), cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // DnsClient reports a cancelled query as a timeout; the caller asked for it, so it is not a DNS result.
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }
        catch (OperationCanceledException)
        {
            return DnsAnswer<T>.TimedOut;
        }
        catch (DnsResponseException ex) when (ex.Code == DnsResponseCode.ConnectionTimeout)
        {
            return DnsAnswer<T>.TimedOut;
        }
        catch (Exception ex)
        {
            // Refused connections, malformed answers: DNS errors to the engines (temporary), never a crash of the
            // check. (Names are validated above, so a bad name never ends here.)
            return new DnsAnswer<T>(DnsStatus.Error, Array.Empty<T>(), $"{type} {name}: {ex.Message}");
        }

        cancellationToken.ThrowIfCancellationRequested();
        switch (response.Header.ResponseCode)
        {
            case DnsHeaderResponseCode.NoError:
                break;
            case DnsHeaderResponseCode.NotExistentDomain:
                return DnsAnswer<T>.NxDomain with { Ttl = NegativeTtl(response) };
            case DnsHeaderResponseCode.ServerFailure:
                return new DnsAnswer<T>(DnsStatus.ServerFailure, Array.Empty<T>(), $"{type} {name}: SERVFAIL");
            default:
                return new DnsAnswer<T>(DnsStatus.Error, Array.Empty<T>(), $"{type} {name}: {response.ErrorMessage}");
        }

        var records = select(response.Answers).Take(_maxRecords).ToArray();
        if (records.Length == 0)
            return DnsAnswer<T>.NoData with { Ttl = NegativeTtl(response) };
        var ttl = response.Answers.Count > 0 ? response.Answers.Min(r => r.InitialTimeToLive) : 0;
        return new DnsAnswer<T>(DnsStatus.NoError, records) { Ttl = TimeSpan.FromSeconds(Math.Max(0, ttl)) };
    }

    /// <summary>
    /// The question name exactly as given (ASCII, A-labels as they are), or null when <paramref name="name"/> is not
    /// a valid name (<see cref="DomainName"/>, kind Query). DnsClient's <see cref="DnsString.Parse"/> runs IDN
    /// conversion over a whole name as soon as one character is not a letter, digit, '-' or '_', and
    /// <see cref="DnsString.FromResponseQueryString"/> converts names that contain "xn--"; each leaves the other
    /// kind of name untouched. So every label goes through the one that keeps it, and the pieces (each ending in
    /// '.') are joined with DnsString's '+', which concatenates without parsing. The wire form is then the ASCII
    /// of the name, label by label (DnsClient writes Value's bytes split at dots).
    /// </summary>
    internal static DnsString? QueryName(string name)
    {
        if (name.Length > 0 && name[^1] == '.')
            name = name[..^1];
        if (DomainName.Problem(name, DomainNameKind.Query) is not null)
            return null;
        if (!name.Contains("xn--", StringComparison.Ordinal))
            return DnsString.FromResponseQueryString(name);
        if (IsLdh(name))
            return DnsString.Parse(name);
        DnsString? result = null;
        foreach (var label in name.Split('.'))
        {
            DnsString piece;
            if (!label.Contains("xn--", StringComparison.Ordinal))
                piece = DnsString.FromResponseQueryString(label);
            else if (IsLdh(label))
                piece = DnsString.Parse(label);
            else
                return null; // e.g. "a+xn--b" from an SPF macro: no DnsClient path keeps it as it is
            result = result is null ? piece : result + piece;
        }
        return result;
    }

    private static bool IsLdh(string name)
    {
        foreach (var c in name)
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.') return false;
        return true;
    }

    /// <summary>Negative-caching time from the SOA in the authority section (RFC 2308 5), when present.</summary>
    private static TimeSpan? NegativeTtl(IDnsQueryResponse response)
    {
        var soa = response.Authorities.SoaRecords().FirstOrDefault();
        return soa is null ? null : TimeSpan.FromSeconds(Math.Min((long)soa.Minimum, soa.InitialTimeToLive));
    }
}
