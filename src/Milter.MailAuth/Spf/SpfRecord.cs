using System.Net;

namespace Milter.MailAuth.Spf;

internal enum SpfMechanismKind
{
    All,
    Include,
    A,
    Mx,
    Ptr,
    Ip4,
    Ip6,
    Exists,
}

/// <summary>One directive: qualifier, mechanism, its optional domain-spec, network and CIDR lengths.</summary>
internal sealed record SpfMechanism(
    SpfResultCode Qualifier,
    SpfMechanismKind Kind,
    string Text,
    MacroString? Domain,
    IPAddress? Network,
    int Cidr4,
    int Cidr6)
{
    /// <summary>Mechanisms that query DNS and count against the limit of 10 (RFC 7208 4.6.4).</summary>
    public bool QueriesDns => Kind is SpfMechanismKind.Include or SpfMechanismKind.A or SpfMechanismKind.Mx
        or SpfMechanismKind.Ptr or SpfMechanismKind.Exists;
}

/// <summary>A parsed "v=spf1" record: directives in order, and the redirect= and exp= modifiers.</summary>
internal sealed record SpfRecord(IReadOnlyList<SpfMechanism> Mechanisms, MacroString? Redirect, MacroString? Explanation);
