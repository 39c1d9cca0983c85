using Milter.MailAuth.Dkim;
using Milter.TestKit;
using Milter.TestKit.Dns;

namespace Milter.Tests.Commands;

/// <summary>For `milter verify` and `milter spf`: an RSA and an Ed25519 key whose records Knot serves under
/// auth.test, and SPF records: auth.test allows 192.0.2.0/24 (-all), soft.auth.test ~all, neutral.auth.test ?all,
/// exp.auth.test -all with an explanation, helo.auth.test for the HELO identity.</summary>
public sealed class AuthCliFixture : IAsyncLifetime
{
    public const string Domain = "auth.test";

    public DkimPrivateKey Rsa { get; } = DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048);
    public DkimPrivateKey Ed { get; } = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
    public KnotDnsServer Knot { get; private set; } = null!;

    public string[] DnsArgs => ["--dns", $"127.0.0.1:{Knot.Port}"];

    public async Task InitializeAsync()
    {
        var zone = new DnsZone(Domain)
            .Txt("rsa._domainkey", Rsa.PublicKeyRecord)
            .Txt("ed._domainkey", Ed.PublicKeyRecord)
            .Txt("@", "v=spf1 ip4:192.0.2.0/24 -all")
            .Txt("soft", "v=spf1 ip4:192.0.2.1 ~all")
            .Txt("neutral", "v=spf1 ?all")
            .Txt("exp", "v=spf1 -all exp=why.exp.auth.test")
            .Txt("why.exp", "%{i} may not send mail for %{d}")
            .Txt("helo", "v=spf1 ip4:198.51.100.7 -all");
        Knot = await KnotDnsServer.StartAsync(zone);
    }

    /// <summary>The message signed with the key of <paramref name="selector"/> ("rsa" or "ed"), CRLF line ends.</summary>
    public string Sign(string message, string selector)
    {
        var signer = new DkimSigner(new DkimSignerOptions { Domain = Domain, Selector = selector, Key = selector == "ed" ? Ed : Rsa });
        var bytes = signer.SignMessageToBytes(RawMessageParser.NormalizeLineEndings(System.Text.Encoding.ASCII.GetBytes(message)), out var result);
        if (!result.Success) throw new InvalidOperationException("cannot sign: " + result.Error);
        return System.Text.Encoding.ASCII.GetString(bytes);
    }

    public async Task DisposeAsync()
    {
        await Knot.DisposeAsync();
        Rsa.Dispose();
        Ed.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class AuthCliCollection : ICollectionFixture<AuthCliFixture>
{
    public const string Name = "auth-cli";
}
