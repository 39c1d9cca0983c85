using Milter.Protocol.Server;

namespace Milter.Protocol.Tests;

public sealed class FloodMemoryReliefTests
{
    [Fact]
    public void Collects_once_after_a_flood_of_connections_ends_and_never_for_ordinary_traffic()
    {
        var connections = 0;
        var budget = new BufferBudget(1024);
        using var relief = new FloodMemoryRelief(() => connections, budget, new ListLoggerFactory().CreateLogger("x"), TimeSpan.FromHours(1));
        connections = 50;
        relief.Observe(connections);
        connections = 0;
        Assert.False(relief.Check()); // 50 connections: ordinary

        connections = FloodMemoryRelief.MinPeakConnections + 100;
        relief.Observe(connections);
        Assert.False(relief.Check()); // still under way
        connections = 10;
        Assert.True(relief.Check()); // the peak carried over from the last check
        Assert.False(relief.Check()); // once
    }

    [Fact]
    public async Task A_budget_that_filled_up_counts_as_a_flood_once_it_is_empty_again()
    {
        var budget = new BufferBudget(1024);
        using var relief = new FloodMemoryRelief(() => 0, budget, new ListLoggerFactory().CreateLogger("x"), TimeSpan.FromHours(1));
        await budget.ReserveAsync(600, CancellationToken.None);
        Assert.False(relief.Check()); // bytes still held
        budget.Release(600);
        Assert.True(relief.Check());
        Assert.False(relief.Check());
        await budget.ReserveAsync(100, CancellationToken.None);
        budget.Release(100);
        Assert.False(relief.Check()); // a small peak is ordinary
    }
}
