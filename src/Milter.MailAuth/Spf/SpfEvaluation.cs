using System.Net;
using System.Net.Sockets;
using Milter.MailAuth.Dns;

namespace Milter.MailAuth.Spf;

/// <summary>
/// State of one SPF check: the check_host() recursion (RFC 7208 4) with its counters. include/redirect depth is
/// bounded by the DNS-term limit and a domain already being evaluated on the chain is reported as a loop.
/// </summary>
internal sealed class SpfEvaluation
{
    private readonly IDnsResolver _dns;
    private readonly SpfOptions _options;
    private readonly IPAddress _ip;
    private readonly bool _ipv6;
    private readonly string _sender, _localPart, _senderDomain, _helo, _dottedIp;
    private readonly long _timestamp;
    private readonly CancellationToken _ct;
    private readonly CancellationToken _callerCt;
    private readonly List<string> _chain = new();
    private List<string>? _validatedNames;

    public int DnsLookups { get; private set; }
    public int VoidLookups { get; private set; }

    internal readonly record struct Outcome(SpfResultCode Code, string Domain, string? Reason, string? Mechanism = null,
        string? Explanation = null);

    private enum Match { No, Yes, Temp, Perm }

    private readonly record struct Step(Match Match, string? Reason = null)
    {
        public static Step No => new(Match.No);
        public static Step Yes => new(Match.Yes);
    }

    public SpfEvaluation(IDnsResolver dns, SpfOptions options, IPAddress ip, string localPart, string senderDomain,
        string helo, long timestamp, CancellationToken ct, CancellationToken callerCt)
    {
        _dns = dns;
        _options = options;
        _ip = ip;
        _ipv6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        _localPart = localPart;
        _senderDomain = senderDomain;
        _sender = localPart + "@" + senderDomain;
        _helo = helo;
        _dottedIp = DnsNames.DottedAddress(ip);
        _timestamp = timestamp;
        _ct = ct;
        _callerCt = callerCt;
    }

    public MacroValues Values(string domain, string? validatedName) => new(_sender, _localPart, _senderDomain, domain,
        _dottedIp, _ip.ToString(), _ipv6, _helo, _options.ReceiverName, _timestamp, validatedName);

    /// <summary>check_host(&lt;ip&gt;, <paramref name="domain"/>, &lt;sender&gt;) (RFC 7208 4).</summary>
    public async Task<Outcome> CheckHostAsync(string domain, bool inInclude)
    {
        domain = DnsNames.TrimTrailingDot(domain);
        // 4.3: a malformed or single-label domain gives "none" without any lookup.
        if (!SpfDomain.IsValidCheckDomain(domain))
            return new(SpfResultCode.None, domain, $"\"{domain}\" is not a valid domain name");
        foreach (var seen in _chain)
        {
            if (seen.Equals(domain, StringComparison.OrdinalIgnoreCase))
                return new(SpfResultCode.PermError, domain, $"include/redirect loop through {domain}");
        }
        if (_chain.Count > _options.MaxDnsLookups)
            return new(SpfResultCode.PermError, domain, "include/redirect nesting too deep");

        var txt = await _dns.GetTxtAsync(domain, _ct);
        if (txt.IsTemporaryFailure)
            return new(SpfResultCode.TempError, domain, $"DNS error looking up TXT {domain}: {txt.Error ?? txt.Status.ToString()}");
        if (txt.Status == DnsStatus.NxDomain)
            return new(SpfResultCode.None, domain, $"{domain} does not exist");
        if (txt.Status == DnsStatus.InvalidName)
            return new(SpfResultCode.None, domain, $"\"{domain}\" is not a valid domain name");

        // 4.5: exactly one record starting with "v=spf1".
        string? selected = null;
        foreach (var record in txt.Records)
        {
            if (!SpfRecordParser.IsSpfRecord(record))
                continue;
            if (selected is not null)
                return new(SpfResultCode.PermError, domain, $"{domain} publishes more than one SPF record");
            selected = record;
        }
        if (selected is null)
            return new(SpfResultCode.None, domain, $"{domain} publishes no SPF record");

        var parsed = SpfRecordParser.Parse(selected, out var syntaxError);
        if (parsed is null)
            return new(SpfResultCode.PermError, domain, $"syntax error in SPF record of {domain}: {syntaxError}");

        _chain.Add(domain);
        try
        {
            return await EvaluateAsync(parsed, domain, inInclude);
        }
        finally
        {
            _chain.RemoveAt(_chain.Count - 1);
        }
    }

    private async Task<Outcome> EvaluateAsync(SpfRecord record, string domain, bool inInclude)
    {
        foreach (var mechanism in record.Mechanisms)
        {
            if (mechanism.QueriesDns && !CountDnsTerm())
                return LimitExceeded(domain, mechanism.Text);
            var step = await MatchAsync(mechanism, domain);
            switch (step.Match)
            {
                case Match.Temp:
                    return new(SpfResultCode.TempError, domain, step.Reason, mechanism.Text);
                case Match.Perm:
                    return new(SpfResultCode.PermError, domain, step.Reason, mechanism.Text);
                case Match.Yes:
                    // 6.2: exp= is used only for a fail of the record being evaluated, never inside include.
                    string? explanation = null;
                    if (mechanism.Qualifier == SpfResultCode.Fail && !inInclude && record.Explanation is not null)
                    {
                        try
                        {
                            explanation = await ExplainAsync(record.Explanation, domain);
                        }
                        catch (OperationCanceledException) when (!_callerCt.IsCancellationRequested)
                        {
                            // The result is known; running out of time while fetching exp= only loses the text.
                        }
                    }
                    return new(mechanism.Qualifier, domain, $"{domain} matched \"{mechanism.Text}\"", mechanism.Text, explanation);
            }
        }

        if (record.Redirect is null)
            return new(SpfResultCode.Neutral, domain, $"no mechanism of {domain} matched");

        // 6.1: redirect is evaluated after all mechanisms; the target's result is the result.
        if (!CountDnsTerm())
            return LimitExceeded(domain, "redirect=" + record.Redirect.Text);
        var target = await ExpandDomainAsync(record.Redirect, domain);
        var result = await CheckHostAsync(target, inInclude);
        if (result.Code == SpfResultCode.None)
            return new(SpfResultCode.PermError, result.Domain, $"redirect target {target} has no SPF record: {result.Reason}",
                "redirect=" + record.Redirect.Text);
        return result;
    }

    private bool CountDnsTerm() => ++DnsLookups <= _options.MaxDnsLookups;

    private Outcome LimitExceeded(string domain, string term) =>
        new(SpfResultCode.PermError, domain, $"more than {_options.MaxDnsLookups} DNS-querying terms (RFC 7208 4.6.4)", term);

    /// <summary>Counts a lookup that returned NXDOMAIN or no records; false when the void limit is exceeded.</summary>
    private Step VoidLookup(string name)
    {
        if (++VoidLookups > _options.MaxVoidLookups)
            return new(Match.Perm, $"more than {_options.MaxVoidLookups} void DNS lookups (RFC 7208 4.6.4), last {name}");
        return Step.No;
    }

    private async Task<Step> MatchAsync(SpfMechanism m, string domain)
    {
        switch (m.Kind)
        {
            case SpfMechanismKind.All:
                return Step.Yes;
            case SpfMechanismKind.Ip4:
            case SpfMechanismKind.Ip6:
                // 5.6: IPv4 clients (including IPv4-mapped IPv6) match only ip4, IPv6 clients only ip6.
                return SpfDomain.InNetwork(_ip, m.Network!, _ipv6 ? m.Cidr6 : m.Cidr4) ? Step.Yes : Step.No;
        }

        var target = m.Domain is null ? domain : await ExpandDomainAsync(m.Domain, domain);
        if (m.Kind == SpfMechanismKind.Include)
            return await IncludeAsync(target);
        // 4.3/4.8: a target no query can be composed for is treated as non-existent.
        if (!SpfDomain.IsQueryable(target))
            return Step.No;

        switch (m.Kind)
        {
            case SpfMechanismKind.A:
                {
                    var answer = await _dns.GetAddressesAsync(target, _ipv6, _ct);
                    if (answer.IsTemporaryFailure)
                        return new(Match.Temp, $"DNS error looking up {target}: {answer.Error ?? answer.Status.ToString()}");
                    if (answer.Records.Count == 0)
                        return VoidLookup(target);
                    return AnyInNetwork(answer.Records, m) ? Step.Yes : Step.No;
                }
            case SpfMechanismKind.Mx:
                return await MatchMxAsync(target, m);
            case SpfMechanismKind.Ptr:
                {
                    var names = await PtrNamesAsync();
                    if (names.Temporary)
                        return Step.No; // 5.5: a DNS error on the PTR lookup makes the mechanism not match.
                    if (names.Names.Count == 0)
                        return VoidLookup(DnsNames.ReverseName(_ip));
                    foreach (var name in names.Names)
                    {
                        if (SpfDomain.IsSameOrSubdomain(name, target) && await ValidatesAsync(name))
                            return Step.Yes;
                    }
                    return Step.No;
                }
            case SpfMechanismKind.Exists:
                {
                    // 5.7: always an A query, whatever the client's address family.
                    var answer = await _dns.GetAddressesAsync(target, false, _ct);
                    if (answer.IsTemporaryFailure)
                        return new(Match.Temp, $"DNS error looking up {target}: {answer.Error ?? answer.Status.ToString()}");
                    return answer.Records.Count == 0 ? VoidLookup(target) : Step.Yes;
                }
            default:
                return new(Match.Perm, $"unexpected mechanism {m.Text}");
        }
    }

    private async Task<Step> IncludeAsync(string target)
    {
        // 5.2: pass matches; fail, softfail, neutral do not; temperror stays; permerror and none are permerror.
        var inner = await CheckHostAsync(target, inInclude: true);
        return inner.Code switch
        {
            SpfResultCode.Pass => Step.Yes,
            SpfResultCode.Fail or SpfResultCode.SoftFail or SpfResultCode.Neutral => Step.No,
            SpfResultCode.TempError => new(Match.Temp, inner.Reason),
            SpfResultCode.None => new(Match.Perm, $"included domain {target} has no SPF record: {inner.Reason}"),
            _ => new(Match.Perm, inner.Reason),
        };
    }

    private async Task<Step> MatchMxAsync(string target, SpfMechanism m)
    {
        var mx = await _dns.GetMxAsync(target, _ct);
        if (mx.IsTemporaryFailure)
            return new(Match.Temp, $"DNS error looking up MX {target}: {mx.Error ?? mx.Status.ToString()}");
        if (mx.Records.Count == 0)
            return VoidLookup(target); // 5.4: no implicit MX, no fallback to the A record.
        if (mx.Records.Count > _options.MaxMxNames)
            return new(Match.Perm, $"{target} has {mx.Records.Count} MX records; at most {_options.MaxMxNames} are looked up (RFC 7208 4.6.4)");
        foreach (var record in mx.Records)
        {
            var exchange = DnsNames.TrimTrailingDot(record.Exchange);
            if (!SpfDomain.IsQueryable(exchange))
                continue; // null MX (RFC 7505) or a name no query can be made for
            var answer = await _dns.GetAddressesAsync(exchange, _ipv6, _ct);
            if (answer.IsTemporaryFailure)
                return new(Match.Temp, $"DNS error looking up {exchange}: {answer.Error ?? answer.Status.ToString()}");
            if (AnyInNetwork(answer.Records, m))
                return Step.Yes;
        }
        return Step.No;
    }

    private bool AnyInNetwork(IReadOnlyList<IPAddress> addresses, SpfMechanism m)
    {
        int prefix = _ipv6 ? m.Cidr6 : m.Cidr4;
        foreach (var address in addresses)
        {
            if (SpfDomain.InNetwork(_ip, address, prefix))
                return true;
        }
        return false;
    }

    private async Task<(bool Temporary, IReadOnlyList<string> Names)> PtrNamesAsync()
    {
        var answer = await _dns.GetPtrAsync(_ip, _ct);
        if (answer.IsTemporaryFailure)
            return (true, Array.Empty<string>());
        // 4.6.4: only the first 10 PTR names are looked at; the rest are ignored.
        var names = answer.Records.Count > _options.MaxPtrNames ? answer.Records.Take(_options.MaxPtrNames).ToArray() : answer.Records;
        return (false, names);
    }

    /// <summary>Whether a PTR name's forward lookup returns the client address (5.5); DNS errors skip the name.</summary>
    private async Task<bool> ValidatesAsync(string name)
    {
        name = DnsNames.TrimTrailingDot(name);
        if (!SpfDomain.IsQueryable(name))
            return false;
        var answer = await _dns.GetAddressesAsync(name, _ipv6, _ct);
        foreach (var address in answer.Records)
        {
            if (address.Equals(_ip))
                return true;
        }
        return false;
    }

    /// <summary>The %{p} value (7.3): &lt;domain&gt; if validated, else a validated subdomain of it, else any
    /// validated name, else "unknown".</summary>
    private async Task<string> ValidatedNameAsync(string domain)
    {
        if (_validatedNames is null)
        {
            // Looked up once per check, however many %{p} the records hold.
            var names = await PtrNamesAsync();
            var validated = new List<string>();
            foreach (var raw in names.Names)
            {
                var name = DnsNames.TrimTrailingDot(raw);
                if (await ValidatesAsync(name))
                    validated.Add(name);
            }
            _validatedNames = validated;
        }
        string? subdomain = null;
        foreach (var name in _validatedNames)
        {
            if (name.Equals(domain, StringComparison.OrdinalIgnoreCase))
                return name;
            if (subdomain is null && SpfDomain.IsSameOrSubdomain(name, domain))
                subdomain = name;
        }
        return subdomain ?? (_validatedNames.Count > 0 ? _validatedNames[0] : "unknown");
    }

    private async Task<string> ExpandDomainAsync(MacroString spec, string domain)
    {
        var validated = spec.UsesValidatedName ? await ValidatedNameAsync(domain) : null;
        return SpfDomain.PrepareTarget(spec.Expand(Values(domain, validated)));
    }

    /// <summary>The exp= explanation (6.2); null when anything goes wrong, so the default is used. The exp lookup
    /// counts against no limit.</summary>
    private async Task<string?> ExplainAsync(MacroString exp, string domain)
    {
        var target = await ExpandDomainAsync(exp, domain);
        if (!SpfDomain.IsQueryable(target))
            return null;
        var answer = await _dns.GetTxtAsync(target, _ct);
        if (answer.Status != DnsStatus.NoError || answer.Records.Count != 1)
            return null;
        var text = answer.Records[0];
        if (MacroString.TryParse(text, MacroScope.Explanation, out var parsed) is not null)
            return null; // also rejects non-ASCII text (6.2: explanation is US-ASCII)
        var validated = parsed!.UsesValidatedName ? await ValidatedNameAsync(domain) : null;
        var expanded = parsed.Expand(Values(domain, validated));
        return expanded.Length > _options.MaxExplanationLength ? expanded[.._options.MaxExplanationLength] : expanded;
    }
}
