using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace Milter.MailAuth.Tests.Dkim;

/// <summary>MimeKit's DkimVerifier with public keys from a dictionary (no DNS).</summary>
internal sealed class MimeKitVerifier
{
    public static (bool Ok, string Error) Verify(InteropCase c)
    {
        try
        {
            using var stream = new MemoryStream(c.Message);
            MimeMessage message = MimeMessage.Load(stream);
            int index = message.Headers.IndexOf(HeaderId.DkimSignature);
            if (index < 0)
            {
                return (false, "no DKIM-Signature");
            }
            var verifier = new DkimVerifier(new Locator(c.Record)) { MinimumRsaKeyLength = 1024 };
            verifier.Enable(DkimSignatureAlgorithm.Ed25519Sha256);
            return (verifier.Verify(message, message.Headers[index]), "");
        }
        catch (FormatException e)
        {
            return (false, e.Message);
        }
    }

    private sealed class Locator(string record) : DkimPublicKeyLocatorBase
    {
        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector,
            CancellationToken cancellationToken = default) => GetPublicKey(record);

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector,
            CancellationToken cancellationToken = default) => Task.FromResult(GetPublicKey(record));
    }
}
