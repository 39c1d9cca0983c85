using Milter.MailAuth.Dkim;

namespace Milter.Commands;

/// <summary>`milter sign --domain D --selector S --key FILE [--algorithm A] [--canonicalization H/B]
/// [--headers H1:H2:...]`: reads a message on stdin (bare LF becomes CRLF) and writes it to stdout with a
/// DKIM-Signature field at the top.</summary>
public static class SignCommand
{
    public static async Task<int> ExecuteAsync(CommandLine cl)
    {
        var names = DkimKeyArguments.Read(cl);
        var keyPath = cl.Require("key");
        var algorithm = cl.Get("algorithm");
        var canonicalization = cl.Get("canonicalization") ?? "relaxed/relaxed";
        var headers = cl.Get("headers");

        if (!DkimCanonicalizationNames.TryParsePair(canonicalization, out var headerCanon, out var bodyCanon))
            throw new UsageException($"sign: --canonicalization must be simple or relaxed for header/body, e.g. relaxed/relaxed, not '{canonicalization}'");
        string[]? signedHeaders = null;
        if (headers is not null)
        {
            signedHeaders = headers.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (!signedHeaders.Any(h => h.Equals("From", StringComparison.OrdinalIgnoreCase)))
                throw new UsageException("sign: --headers must include From (RFC 6376 5.4)");
        }

        using var key = KeyFile.Load("sign", keyPath);
        KeyFile.CheckAlgorithm("sign", algorithm, key, keyPath);
        DkimSigner signer;
        try
        {
            signer = new DkimSigner(new DkimSignerOptions
            {
                Domain = names.Domain,
                Selector = names.Selector,
                Key = key,
                HeaderCanonicalization = headerCanon,
                BodyCanonicalization = bodyCanon,
                SignedHeaders = signedHeaders,
            });
        }
        catch (ArgumentException e)
        {
            throw new UsageException("sign: " + e.Message);
        }

        var message = await CliStdin.ReadMessageAsync("sign");
        var parsed = RawMessageParser.Parse(message);
        if (parsed.Headers.Count == 0)
        {
            Console.Error.WriteLine("milter: sign: the input has no header fields (a message starts with lines like \"From: ...\")");
            return Program.ExitCheckFailed;
        }
        if (!parsed.Headers.Any(h => h.NameString.Equals("From", StringComparison.OrdinalIgnoreCase)))
        {
            Console.Error.WriteLine("milter: sign: the message has no From header field, which a DKIM signature must cover (RFC 6376 5.4)");
            return Program.ExitCheckFailed;
        }
        var signed = signer.SignMessageToBytes(message, out var result);
        if (!result.Success)
        {
            Console.Error.WriteLine("milter: sign: cannot sign the message: " + result.Error);
            return Program.ExitCheckFailed;
        }
        await using var stdout = CliStdio.OpenOutput();
        await stdout.WriteAsync(signed);
        await stdout.FlushAsync();
        return Program.ExitOk;
    }
}
