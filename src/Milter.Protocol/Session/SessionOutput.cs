using System.Runtime.CompilerServices;
namespace Milter.Protocol.Session;

/// <summary>The write side of a session. Every send is one write of one buffer, and sends are
/// serialized, so a keep-alive from a timer never interleaves with a reply.</summary>
internal sealed class SessionOutput : IDisposable
{
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed", Justification = "Borrowed: the connection's stream belongs to the server, which disposes it after the session.")]
    private readonly Stream _stream;
    private readonly SemaphoreSlim _lock = new(1, 1);

    public SessionOutput(Stream stream) => _stream = stream;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(data, cancellationToken);
            await _stream.FlushAsync(cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _lock.Dispose();
}
