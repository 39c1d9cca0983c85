namespace Milter.Protocol.Server;

/// <summary>
/// The bytes all sessions of a server may hold in incomplete large frames. A session reserves a frame's
/// declared length before reading the rest of it and releases it once the frame is handled (or the connection
/// ends); past the budget it waits, with the client held back by TCP flow control, until bytes come free or
/// its frame deadline passes. Waiters are served in arrival order. Thread-safe.
/// </summary>
public sealed class BufferBudget
{
    private readonly object _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _available;
    private long _peak;

    public BufferBudget(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _available = capacity;
    }

    public long Capacity { get; }

    /// <summary>Bytes reserved now.</summary>
    public long InUse
    {
        get { lock (_lock) return Capacity - _available; }
    }

    /// <summary>The most bytes reserved at once since the last call; starts again from what is reserved now.</summary>
    public long TakePeak()
    {
        lock (_lock)
        {
            var peak = _peak;
            _peak = Capacity - _available;
            return peak;
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> (at most the capacity), waiting for them if needed.
    /// Throws <see cref="OperationCanceledException"/> when cancelled first (nothing is then reserved).</summary>
    public ValueTask ReserveAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, Capacity);
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                Take(bytes);
                return ValueTask.CompletedTask;
            }
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }
        return new ValueTask(WaitAsync(waiter, cancellationToken));
    }

    private async Task WaitAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        await using var registration = cancellationToken.Register(() => Cancel(waiter, cancellationToken));
        await waiter.Done.Task;
    }

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (waiter.Node?.List is null) return; // granted already
            _waiters.Remove(waiter.Node);
            // The head may have been holding back smaller waiters behind it.
            GrantLocked();
        }
        waiter.Done.TrySetCanceled(token);
    }

    /// <summary>Gives back bytes reserved earlier and wakes waiters they now fit.</summary>
    public void Release(long bytes)
    {
        if (bytes <= 0) return;
        lock (_lock)
        {
            _available = Math.Min(Capacity, _available + bytes);
            GrantLocked();
        }
    }

    private void GrantLocked()
    {
        while (_waiters.First is { } head && head.Value.Bytes <= _available)
        {
            Take(head.Value.Bytes);
            _waiters.RemoveFirst();
            head.Value.Done.TrySetResult();
        }
    }

    private void Take(long bytes)
    {
        _available -= bytes;
        _peak = Math.Max(_peak, Capacity - _available);
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;
        public LinkedListNode<Waiter>? Node;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
