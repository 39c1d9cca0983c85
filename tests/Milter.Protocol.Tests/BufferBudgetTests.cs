using Milter.Protocol.Server;

namespace Milter.Protocol.Tests;

public sealed class BufferBudgetTests
{
    [Fact]
    public async Task Reservations_past_the_capacity_wait_in_order_until_bytes_are_released()
    {
        var budget = new BufferBudget(100);
        await budget.ReserveAsync(70, CancellationToken.None);
        var big = budget.ReserveAsync(60, CancellationToken.None).AsTask();
        var small = budget.ReserveAsync(10, CancellationToken.None).AsTask();
        Assert.False(big.IsCompleted);
        Assert.False(small.IsCompleted); // behind the first waiter, though it would fit
        budget.Release(70);
        await Task.WhenAll(big, small).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(70, budget.InUse);
    }

    [Fact]
    public async Task A_cancelled_wait_reserves_nothing_and_lets_the_next_waiter_through()
    {
        var budget = new BufferBudget(100);
        await budget.ReserveAsync(50, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var big = budget.ReserveAsync(80, cts.Token).AsTask();
        var small = budget.ReserveAsync(40, CancellationToken.None).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => big);
        await small.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(90, budget.InUse);
        budget.Release(90);
        Assert.Equal(0, budget.InUse);
    }
}
