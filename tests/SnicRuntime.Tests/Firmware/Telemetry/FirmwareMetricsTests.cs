using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Diagnostics.Metrics;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Telemetry;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Telemetry;

/// <summary>The System.Diagnostics.Metrics view of the dataplane, read the way an exporter reads it (MeterListener).</summary>
public sealed class FirmwareMetricsTests
{
    [Fact]
    public void Instruments_report_worker_drop_flow_eni_and_plan_figures()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Assert.True(store.Apply(File.ReadAllText(TestPaths.Plan("full.json"))).Accepted);
        using Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 4096 });
        using var metrics = new FirmwareMetrics(dp, store);

        // Three good packets and one to a wrong VIP, straight through worker 0.
        var frames = new[] { SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50"), SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50", sport: 2), SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50", sport: 3),
            SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50", vip: "172.16.1.99") };
        var burst = new PacketRef[frames.Length];
        Assert.Equal(frames.Length, dp.Pool.AllocBulk(burst));
        for (int i = 0; i < frames.Length; i++)
        {
            burst[i].SetLength(frames[i].Length);
            frames[i].CopyTo(burst[i].Data);
        }

        // All into worker 0's queue (the emulated port's RSS would spread them).
        var ring = dp.EmulatedPort(0);
        ring.Inject(burst);
        foreach (IWorker w in dp.Workers)
        {
            w.PollOnce();
        }

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            // This instance's meter only: card agents in tests running alongside publish
            // instruments of the same names under the same meter name.
            if (i.Meter.Name == FirmwareMetrics.MeterName && ReferenceEquals(i.Meter, metrics.Meter))
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) =>
        {
            string key = i.Name + string.Concat(tags.ToArray().Select(t => $"|{t.Key}={t.Value}"));
            seen[key] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(4, seen.Where(k => k.Key.StartsWith("snic.worker.rx.packets", StringComparison.Ordinal)).Sum(k => k.Value));
        Assert.Equal(3, seen.Where(k => k.Key.StartsWith("snic.worker.tx.packets", StringComparison.Ordinal)).Sum(k => k.Value));
        Assert.Equal(1, seen["snic.drops|reason=NotToVip"]);
        Assert.Equal(3, seen["snic.flows.created"]);
        Assert.Equal(3, seen["snic.flows.active"]);
        Assert.Equal(3, seen["snic.eni.packets|eni=eni1"]);
        Assert.Equal(0, seen["snic.eni.packets|eni=eni2"]);
        Assert.Equal(1, seen["snic.plan.generation"]);
    }
}
