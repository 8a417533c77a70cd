using SnicRuntime.Firmware.Boot;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.Hal.Net;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Pipeline;

public sealed class FlowDumpTests
{
    [Fact]
    public void Pages_cover_every_flow_once_and_filters_select_by_eni_address_and_port()
    {
        using var h = new PipelineHarness(PipelineHarness.PlanText("full.json"));
        for (int i = 0; i < 40; i++)
        {
            h.Forwarded(Overlay.FromVm("10.1.2.50", sport: (ushort)(2000 + i)));
        }

        h.Forwarded(Overlay.FromVm("10.1.2.50", sport: 3000, src: "10.1.1.20", srcMac: Overlay.Mac("00:cc:cc:cc:cc:02")));
        PolicyPipeline[] workers = [h.Pipeline];
        PolicyTables t = h.Store.Current!;

        var seen = new List<FlowView>();
        string? cursor = null;
        int pages = 0;
        do
        {
            FlowPage page = FlowDump.Read(workers, t, new FlowFilter(), cursor, limit: 8);
            Assert.True(page.Flows.Count <= 8 + 3);
            seen.AddRange(page.Flows);
            cursor = page.Next;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(41, seen.Count);
        Assert.Equal(41, seen.Select(f => (f.Eni, f.PortA, f.PortB)).Distinct().Count());
        Assert.True(pages >= 5);
        FlowView one = seen.First(f => f.PortA == 2000 || f.PortB == 2000);
        Assert.Equal("eni1", one.Eni);
        Assert.Equal(IpProtocols.Udp, one.Protocol);
        Assert.Equal("10.1.1.10", one.AddressA);
        Assert.Equal("10.1.2.50", one.AddressB);
        Assert.True(one.OpenedByA);
        Assert.StartsWith("vxlan to 172.16.1.20 vni 200, meter class 1", one.Action, StringComparison.Ordinal);

        Assert.Single(FlowDump.Read(workers, t, new FlowFilter(Eni: "eni2"), null, 100).Flows);
        Assert.Single(FlowDump.Read(workers, t, new FlowFilter(Port: 2007), null, 100).Flows);
        Assert.Equal(40, FlowDump.Read(workers, t, new FlowFilter(Address: "10.1.1.10"), null, 100).Flows.Count);
        Assert.Empty(FlowDump.Read(workers, t, new FlowFilter(Protocol: IpProtocols.Tcp), null, 100).Flows);
    }

    [Fact]
    public void Flows_of_an_older_generation_say_so_and_bad_cursors_and_limits_are_refused()
    {
        using var h = new PipelineHarness(PipelineHarness.PlanText("full.json"));
        h.Forwarded(Overlay.FromVm("10.1.2.50"));
        Assert.True(h.Store.Apply(PlanEdit.Edit("full.json", p => p["generation"] = 2)).Accepted);
        FlowView f = Assert.Single(FlowDump.Read([h.Pipeline], h.Store.Current, new FlowFilter(), null, 10).Flows);
        Assert.Contains("decided by generation 1", f.Action, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => FlowDump.Read([h.Pipeline], h.Store.Current, new FlowFilter(), "7.4.0", 10));
        Assert.Throws<ArgumentException>(() => FlowDump.Read([h.Pipeline], h.Store.Current, new FlowFilter(), "garbage", 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowDump.Read([h.Pipeline], h.Store.Current, new FlowFilter(), null, 0));
    }

    [Fact]
    public void Dumping_while_workers_run_sees_whole_flows_and_does_not_stop_them()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Assert.True(store.Apply(File.ReadAllText(TestPaths.Plan("demo.json"))).Accepted);
        using Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 16_384 });
        DashEndpoints dash = DemoTraffic.From(store.Current!, out string why) ?? throw new InvalidOperationException(why);
        var generator = new TrafficGenerator(new TrafficProfile { Flows = 2000, RatePps = 100_000, Dash = dash, Vip = store.Current!.Vip }, dp.Pool);
        var sink = new TrafficSink(dp.Pool, Enumerable.Range(0, dp.Ports.Count).Select(dp.EmulatedPort).ToArray());
        using var stop = new CancellationTokenSource();
        dp.Start();
        var sinkThread = new Thread(() => sink.Run(stop.Token)) { IsBackground = true };
        sinkThread.Start();
        var genThread = new Thread(() => generator.Run(dp.EmulatedPort(0), TimeSpan.FromMilliseconds(800), CancellationToken.None)) { IsBackground = true };
        genThread.Start();

        int dumps = 0;
        long rxBefore = dp.TotalCounters().RxPackets;
        while (genThread.IsAlive)
        {
            string? cursor = null;
            do
            {
                FlowPage page = FlowDump.Read(dp.Pipelines, store.Current, new FlowFilter(), cursor, 500);
                Assert.All(page.Flows, f =>
                {
                    Assert.StartsWith("eni", f.Eni, StringComparison.Ordinal);               // a real ENI, not a torn scope
                    Assert.StartsWith("10.", f.AddressA, StringComparison.Ordinal);
                    Assert.True(f.Packets >= 1);
                });
                cursor = page.Next;
            }
            while (cursor is not null);

            dumps++;
        }

        Assert.True(dp.Stop(TimeSpan.FromSeconds(5)));
        stop.Cancel();
        sinkThread.Join();
        Assert.True(dumps >= 3, $"{dumps} full dumps during the run");
        Assert.True(dp.TotalCounters().RxPackets - rxBefore > 40_000, "workers kept forwarding while being dumped");
    }
}
