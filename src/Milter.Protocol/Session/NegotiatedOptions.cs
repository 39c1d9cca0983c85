namespace Milter.Protocol.Session;

/// <summary>The result of SMFIC_OPTNEG as both ends see it: the filter's reply.</summary>
/// <param name="Version">The version in the reply (never above what the MTA offered).</param>
/// <param name="Actions">SMFIF_* flags the filter may use (a subset of the MTA's offer).</param>
/// <param name="ProtocolFlags">SMFIP_* flags in force (a subset of the MTA's offer).</param>
/// <param name="Macros">Macro names requested per stage, space-separated as on the wire.</param>
public sealed record NegotiatedOptions(
    uint Version,
    MilterActions Actions,
    MilterProtocolFlags ProtocolFlags,
    IReadOnlyDictionary<MacroStage, string> Macros)
{
    public bool Has(MilterProtocolFlags flag) => (ProtocolFlags & flag) == flag;
}
