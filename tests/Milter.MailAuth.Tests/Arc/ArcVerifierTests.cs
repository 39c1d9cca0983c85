using System.Diagnostics;
using System.Text;
using Milter.MailAuth.Arc;
using Milter.MailAuth.Dkim;

namespace Milter.MailAuth.Tests.Arc;

public sealed class ArcVerifierTests
{
    private static byte[] Bytes(string s) => Encoding.ASCII.GetBytes(s);

    [Theory]
    [InlineData(DkimKeyType.Ed25519)]
    [InlineData(DkimKeyType.Rsa)]
    public async Task Three_hops_pass_with_every_sealer_named(DkimKeyType type)
    {
        using var hops = new ArcHops();
        var message = Bytes(ArcHops.Unsigned);
        foreach (var domain in new[] { "lists.example", "forward.example", "mx.example" })
        {
            var (next, _, seal) = await hops.HopAsync(message, hops.Sealer(domain, type));
            Assert.True(seal.Sealed, seal.Error ?? seal.Skipped);
            message = next;
        }
        var result = await hops.VerifyAsync(message);
        Assert.Equal(ArcResult.Pass, result.Result);
        Assert.Equal(3, result.Instances);
        Assert.Equal(0, result.OldestPass);
        Assert.Equal(["lists.example", "forward.example", "mx.example"], result.Sealers);
        Assert.Contains("arc=pass", result.Sets[2].AuthenticationResults);
    }

    [Fact]
    public async Task A_body_changed_between_hops_keeps_the_chain_and_moves_oldest_pass()
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(Bytes(ArcHops.Unsigned), hops.Sealer("lists.example"));
        (message, _, _) = await hops.HopAsync(message, hops.Sealer("forward.example"), m => [.. m, .. Bytes("-- \r\nfooter\r\n")]);
        var result = await hops.VerifyAsync(message);
        Assert.Equal(ArcResult.Pass, result.Result);
        Assert.Equal(2, result.OldestPass);
    }

    [Fact]
    public async Task A_body_changed_after_the_last_seal_fails()
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(Bytes(ArcHops.Unsigned), hops.Sealer("lists.example"));
        var result = await hops.VerifyAsync([.. message, .. Bytes("added\r\n")]);
        Assert.Equal(ArcResult.Fail, result.Result);
        Assert.Contains("body hash", result.Reason);
    }

    [Fact]
    public async Task A_message_without_arc_fields_is_none() =>
        Assert.Equal(ArcResult.None, (await new ArcHops().VerifyAsync(Bytes(ArcHops.Unsigned))).Result);

    [Theory]
    [InlineData("i=1;", "i=0;", "i= is not an instance")]
    [InlineData("i=1;", "i=51;", "i= is not an instance")]
    [InlineData("i=1;", "", "i= missing")]
    [InlineData("cv=none;", "", "cv= missing")]
    [InlineData("cv=none;", "cv=maybe;", "cv= is not none, pass or fail")]
    [InlineData("a=ed25519-sha256;", "a=rsa-sha1;", "unsupported algorithm")]
    [InlineData("d=lists.example;", "d=lists..example;", "malformed d=")]
    [InlineData("cv=none;", "cv=none; h=from;", "must not have h=")]
    [InlineData("cv=none;", "cv=none;;", "malformed tag list")]
    public async Task A_malformed_seal_fails_with_a_reason(string find, string replace, string reason)
    {
        var result = await VerifyEditedAsync("ARC-Seal", find, replace);
        Assert.Equal(ArcResult.Fail, result.Result);
        Assert.Contains(reason, result.Reason);
    }

    [Theory]
    [InlineData("ARC-Message-Signature", "bh=", "x=1; bh=", "signature expired")]
    [InlineData("ARC-Message-Signature", " h=", " h=arc-seal:", "h= signs ARC-Seal")]
    [InlineData("ARC-Message-Signature", "i=1;", "i=2;", "missing")]
    [InlineData("ARC-Authentication-Results", "i=1;", "i=x;", "AAR i= is not an instance")]
    public async Task Malformed_signature_or_results_fail_with_a_reason(string field, string find, string replace, string reason)
    {
        var result = await VerifyEditedAsync(field, find, replace);
        Assert.Equal(ArcResult.Fail, result.Result);
        Assert.Contains(reason, result.Reason);
    }

    [Fact]
    public async Task A_huge_b_value_fails_without_an_exception()
    {
        var result = await VerifyEditedAsync("ARC-Seal", "b=", "b=" + new string('A', 40_000));
        Assert.Equal(ArcResult.Fail, result.Result);
        Assert.Contains("too large", result.Reason);
    }

    [Fact]
    public async Task Duplicate_instances_fail()
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(Bytes(ArcHops.Unsigned), hops.Sealer("lists.example"));
        var text = Encoding.ASCII.GetString(message);
        var seal = text[..(text.IndexOf("\r\nARC-Message-Signature", StringComparison.Ordinal) + 2)];
        var result = await hops.VerifyAsync(Bytes(seal + text));
        Assert.Equal(ArcResult.Fail, result.Result);
        Assert.Contains("duplicate ARC-Seal i=1", result.Reason);
    }

    /// <summary>RFC 8617 4.2.1: at most 50 sets. A 50-set chain verifies in bounded memory with one body pass plus at
    /// most <see cref="ArcVerifierContext.MaxArcBodyHashes"/> more; a 51st hop adds nothing.</summary>
    [Fact]
    public async Task A_chain_of_fifty_sets_passes_in_bounded_memory_and_a_fifty_first_seal_is_skipped()
    {
        using var hops = new ArcHops();
        var sealer = hops.Sealer("lists.example");
        var message = Bytes(ArcHops.Unsigned);
        for (int i = 0; i < 50; i++) (message, _, _) = await hops.HopAsync(message, sealer);

        var verifier = hops.Verifier();
        await ArcVerification.VerifyMessageAsync(verifier, message); // warm the key cache and the JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var (_, result) = await ArcVerification.VerifyMessageAsync(verifier, message);
        watch.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(ArcResult.Pass, result.Result);
        Assert.Equal(50, result.Instances);
        Assert.True(allocated < 32 * 1024 * 1024, $"{allocated} bytes allocated verifying 50 sets ({message.Length} byte message)");
        Console.WriteLine($"50-set chain: {message.Length} bytes, verified in {watch.ElapsedMilliseconds} ms, {allocated / 1024} KiB allocated");

        var (_, arrived, seal) = await hops.HopAsync(message, sealer);
        Assert.Equal(ArcResult.Pass, arrived.Result);
        Assert.False(seal.Sealed);
        Assert.Contains("50 sets", seal.Skipped);
    }

    [Fact]
    public async Task Dkim_and_arc_of_the_same_canonicalization_share_one_body_pass()
    {
        using var hops = new ArcHops();
        using var dkimKey = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        hops.Dns.AddTxt("s1._domainkey.origin.example", dkimKey.PublicKeyRecord);
        var signer = new DkimSigner(new DkimSignerOptions { Domain = "origin.example", Selector = "s1", Key = dkimKey,
            BodyCanonicalization = DkimCanonicalization.Relaxed, HeaderCanonicalization = DkimCanonicalization.Relaxed });
        var signed = signer.SignMessageToBytes(Bytes(ArcHops.Unsigned), out _);
        var (message, _, _) = await hops.HopAsync(signed, hops.Sealer("lists.example"));

        var parsed = RawMessageParser.Parse(message);
        using var context = hops.Verifier().CreateContext();
        foreach (var f in parsed.Headers) context.AddHeader(f.Name.Span, f.Value.Span);
        var arc = new ArcVerifierContext(context);
        arc.EndOfHeaders();
        context.AppendBody(parsed.Body.Span);
        var dkim = await context.CompleteAsync();
        var chain = await arc.CompleteAsync();
        Assert.True(dkim.Single().IsPass);
        Assert.Equal(ArcResult.Pass, chain.Result);
        Assert.Equal(1, context.BodyHashCount);
    }

    /// <summary>A one-hop chain with one substring of one of its ARC fields replaced.</summary>
    private static async Task<ArcChainResult> VerifyEditedAsync(string field, string find, string replace)
    {
        using var hops = new ArcHops();
        var (message, _, _) = await hops.HopAsync(Bytes(ArcHops.Unsigned), hops.Sealer("lists.example"));
        var text = Encoding.ASCII.GetString(message);
        int start = text.IndexOf(field + ":", StringComparison.Ordinal);
        int at = text.IndexOf(find, start, StringComparison.Ordinal);
        Assert.True(at > 0, $"{find} not in {field}");
        return await hops.VerifyAsync(Bytes(text[..at] + replace + text[(at + find.Length)..]));
    }

    /// <summary>What the sender chose (no From field, more ARC fields than 50 sets hold) makes the sealer skip the
    /// message, never fail: a failed seal is a tempfail, and the sender would get it on every retry.</summary>
    [Fact]
    public async Task Sender_chosen_reasons_not_to_seal_are_skips_not_errors()
    {
        using var hops = new ArcHops();
        var sealer = hops.Sealer("lists.example");
        var (_, _, noFrom) = await hops.HopAsync(Bytes("To: list@lists.example\r\nSubject: x\r\n\r\nhi\r\n"), sealer);
        Assert.False(noFrom.Sealed);
        Assert.Null(noFrom.Error);
        Assert.Equal("the message has no From field", noFrom.Skipped);

        var flood = new StringBuilder();
        for (int i = 0; i < 151; i++) flood.Append("ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x.example; s=s; b=\r\n");
        var (_, _, tooMany) = await hops.HopAsync(Bytes(flood + ArcHops.Unsigned), sealer);
        Assert.False(tooMany.Sealed);
        Assert.Null(tooMany.Error);
        Assert.Equal("too many ARC header fields", tooMany.Skipped);
    }
}
