using Milter.Configuration;
using Milter.MailAuth.Arc;

namespace Milter.Keys;

/// <summary>The ARC sealer of the config (Arc:Seal), its key loaded as the signing keys are; null when sealing is off.</summary>
internal static class ArcSealKey
{
    public static ArcSealer? Load(MilterOptions options, TimeProvider time)
    {
        var seal = options.Arc.Seal;
        if (!seal.IsEnabled()) return null;
        var key = KeyStore.LoadKeyFile("Arc:Seal:KeyFile", seal.KeyFile!, options.Signing.AllowGroupReadableKeys);
        try
        {
            return new ArcSealer(new ArcSealerOptions
            {
                Domain = seal.Domain!.Trim().TrimEnd('.').ToLowerInvariant(),
                Selector = seal.Selector!.Trim(),
                Key = key,
                TimeProvider = time,
            });
        }
        catch (ArgumentException e)
        {
            key.Dispose();
            throw new ConfigException("Arc:Seal", seal.Domain, e.Message);
        }
    }
}
