using SnicRuntime.Firmware.Boot;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>The pipeline in the real dataplane: two workers, emulated ports, DASH traffic made from the demo plan.</summary>
public sealed class PolicyDataplaneTests
{
    [Fact]
    public void Demo_traffic_runs_through_both_directions_of_the_pipeline_on_every_worker()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Assert.True(store.Apply(File.ReadAllText(TestPaths.Plan("demo.json"))).Accepted);
        using Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 16_384 });
        DashEndpoints dash = DemoTraffic.From(store.Current!, out string why) ?? throw new InvalidOperationException(why);
        var generator = new TrafficGenerator(new TrafficProfile { Flows = 500, RatePps = 50_000, Dash = dash, Vip = store.Current!.Vip }, dp.Pool);
        var sink = new TrafficSink(dp.Pool, Enumerable.Range(0, dp.Ports.Count).Select(dp.EmulatedPort).ToArray());
        using var stop = new CancellationTokenSource();
        dp.Start();
        var sinkThread = new Thread(() => sink.Run(stop.Token)) { IsBackground = true };
        sinkThread.Start();
        // Bounded: half a second at a modest rate, then drain.
        generator.Run(dp.EmulatedPort(0), TimeSpan.FromMilliseconds(500), CancellationToken.None);
        SpinWait.SpinUntil(() => dp.Ports.Sum(p => ((EmulatedPort)p).RxPending) == 0, TimeSpan.FromSeconds(5));
        Assert.True(dp.Stop(TimeSpan.FromSeconds(5)));
        stop.Cancel();
        sinkThread.Join();

        Assert.Equal(2, dp.Pipelines.Count);
        Assert.All(dp.Pipelines, p => Assert.True(p.Counters.Outbound > 0 && p.Counters.Inbound > 0, "each worker sees both directions"));
        long rx = dp.TotalCounters().RxPackets;
        long encapsulated = dp.Pipelines.Sum(p => p.Counters.Encapsulated);
        Assert.True(encapsulated >= rx * 95 / 100, $"{encapsulated} of {rx} packets went through policy and out");
        Assert.Equal(dp.FlowTotals().Created, dp.Pipelines.Sum(p => p.Counters.FlowsCreated));
        Assert.DoesNotContain(dp.DropsByReason().Keys, r => r is SnicRuntime.Firmware.DropReason.AclDeny or SnicRuntime.Firmware.DropReason.UnknownEni
            or SnicRuntime.Firmware.DropReason.PaValidationFailed or SnicRuntime.Firmware.DropReason.MappingMiss);
    }
}
