namespace Milter.MailAuth.Dmarc;

/// <summary>
/// Identifier alignment for one message (RFC 9989 3.2.10, 4.4): strict means identical names; relaxed means the
/// same Organizational Domain, each side from its own tree walk (or the PSL in RFC 7489 mode). Walk results are
/// cached for the message; the number of distinct identifier walks is bounded.
/// </summary>
internal sealed class DmarcAlignment(DmarcEvaluator evaluator, DmarcDiscovery discovery, string author, CancellationToken ct)
{
    private readonly Dictionary<string, string?> _orgs = new(StringComparer.Ordinal);

    /// <summary>Why some alignment could not be decided (a transient DNS error), or null.</summary>
    public string? Undetermined { get; private set; }

    public async Task<bool> CheckAsync(string identifier, DmarcAlignmentMode mode)
    {
        if (identifier == author)
            return true;
        if (mode == DmarcAlignmentMode.Strict)
            return false; // strict never falls back to Org-Domain logic (OpenDMARC #354)
        // Organizational Domains are ancestors-or-self, so names under different TLDs can never share one.
        if (!SameTopLabel(identifier, author))
            return false;
        var authorOrg = await discovery.AuthorOrganizationalDomainAsync(
            evaluator.Options.Mode == DmarcMode.Rfc7489 ? evaluator.Psl : null, ct);
        if (authorOrg is null)
        {
            Undetermined ??= $"Organizational Domain of {author}: DNS error";
            return false;
        }
        if (!_orgs.TryGetValue(identifier, out var identifierOrg))
        {
            if (_orgs.Count >= evaluator.Options.MaxIdentifierDomains)
                return false;
            identifierOrg = await evaluator.OrganizationalDomainOfIdentifierAsync(identifier, ct);
            _orgs[identifier] = identifierOrg;
        }
        if (identifierOrg is null)
        {
            Undetermined ??= $"Organizational Domain of {identifier}: DNS error";
            return false;
        }
        return identifierOrg == authorOrg;
    }

    private static bool SameTopLabel(string a, string b) =>
        a.AsSpan(a.LastIndexOf('.') + 1).SequenceEqual(b.AsSpan(b.LastIndexOf('.') + 1));
}
