using System.Net;
using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.MailAuth.Inbound;

namespace Milter.MailAuth.Tests.Inbound;

/// <summary><see cref="InboundPipeline.EvaluateAsync"/> reads a message from a stream: any split of the reads gives the
/// same result, and the body is streamed through, not held.</summary>
[Collection(nameof(InboundPipelineStreamTests))]
public sealed class InboundPipelineStreamTests
{
    private const string Domain = "stream.test";

    private sealed class KeyResolver(string keyRecord) : IDnsResolver
    {
        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) => Task.FromResult(
            name.TrimEnd('.') == "sel._domainkey." + Domain ? DnsAnswer<string>.Of(keyRecord) : DnsAnswer<string>.NxDomain);
        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<IPAddress>.NxDomain);
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<MxRecord>.NxDomain);
        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<string>.NxDomain);
    }

    /// <summary>Hands out at most <c>step</c> bytes per read, so the header's end falls inside and across reads.</summary>
    private sealed class TrickleStream(byte[] data, int step) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, step));
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(buffer.Length, step)], cancellationToken);
    }

    /// <summary>A message of <c>bodyBytes</c> generated as it is read, never held.</summary>
    private sealed class GeneratedMessage(long bodyBytes) : Stream
    {
        private static readonly byte[] Header = "From: a@stream.test\r\nSubject: big\r\n\r\n"u8.ToArray();
        private static readonly byte[] Line = Encoding.ASCII.GetBytes(new string('x', 78) + "\r\n");
        private long _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var total = Header.Length + bodyBytes;
            var n = (int)Math.Min(count, total - _position);
            for (var i = 0; i < n; i++, _position++)
                buffer[offset + i] = _position < Header.Length ? Header[_position] : Line[(_position - Header.Length) % Line.Length];
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static InboundPipeline Pipeline(IDnsResolver dns)
        => new(dns, new InboundPipelineOptions { AuthservId = "mx.stream.test", Spf = null, Dmarc = null }, TimeProvider.System);

    private static readonly SmtpEnvelope Envelope = new(IPAddress.Parse("192.0.2.1"), "mail.stream.test", "<a@stream.test>");

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_000)]
    public async Task Any_split_of_the_reads_gives_the_same_verified_result(int step)
    {
        using var key = DkimPrivateKey.Generate(DkimKeyType.Ed25519);
        var signer = new DkimSigner(new DkimSignerOptions { Domain = Domain, Selector = "sel", Key = key });
        var message = signer.SignMessageToBytes(Encoding.ASCII.GetBytes(
            "From: a@stream.test\r\nSubject: folded\r\n\tsubject\r\n\r\nBody line one.\r\n\r\nBody line three.\r\n"), out var signing);
        Assert.True(signing.Success, signing.Error);

        using var stream = new TrickleStream(message, step);
        var result = await Pipeline(new KeyResolver(key.PublicKeyRecord)).EvaluateAsync(Envelope, stream, CancellationToken.None);
        Assert.Equal(DkimResult.Pass, Assert.Single(result.Dkim).Result);
        Assert.Equal(Domain, result.Author.Domain);
        Assert.StartsWith(" mx.stream.test; dkim=pass header.d=stream.test", result.FormatAuthenticationResults(998), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_64_MB_body_is_streamed_through_not_held()
    {
        const long body = 64L * 1024 * 1024;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await using var stream = new GeneratedMessage(body);
        var result = await Pipeline(new KeyResolver("")).EvaluateAsync(Envelope, stream, CancellationToken.None);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(Domain, result.Author.Domain);
        // Everything the process allocated meanwhile (other tests included) stays far below the body's size.
        Assert.True(allocated < body / 4, $"{allocated / 1024 / 1024} MB allocated while reading a {body / 1024 / 1024} MB body");
    }
}

/// <summary>Alone, not beside other test classes: the 64 MB test counts what the whole process allocates (the pipeline's
/// awaits move between threads, so a per-thread count would miss some), and other tests running meanwhile added to it.</summary>
[CollectionDefinition(nameof(InboundPipelineStreamTests), DisableParallelization = true)]
public sealed class InboundPipelineStreamCollection;
