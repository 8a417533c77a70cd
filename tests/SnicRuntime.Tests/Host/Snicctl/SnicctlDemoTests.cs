using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>Tests that start whole card processes run alone, after the parallel ones: they are timing-sensitive on 2 cores.</summary>
[CollectionDefinition("processes", DisableParallelization = true)]
public sealed class ProcessesCollection;

/// <summary><c>snicctl demo</c> end to end: two firmware processes, plan through their agents, counters, clean stop.</summary>
[Collection("processes")]
public sealed class SnicctlDemoTests
{
    [Fact]
    public async Task Demo_runs_two_cards_applies_the_plan_through_their_agents_and_stops_by_itself()
    {
        var (code, output, err) = await Task.Run(() => SnicctlProcess.Run("demo", "--seconds", "4"));
        Assert.True(code == 0, output + err);
        Assert.Contains("card-a acked, card-b acked", output, StringComparison.Ordinal);
        Assert.Contains("card-a finished: exit 0", output, StringComparison.Ordinal);
        Assert.Contains("card-b finished: exit 0", output, StringComparison.Ordinal);
        Assert.Matches(@"card-a finished: exit 0 .*last counters read: rx [1-9]", output); // it forwarded traffic under the plan
    }
}
