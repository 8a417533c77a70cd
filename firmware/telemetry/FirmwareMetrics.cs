using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Plans;
using System.Diagnostics.Metrics;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;

namespace SnicRuntime.Firmware.Telemetry;

/// <summary>
/// The dataplane's counters as System.Diagnostics.Metrics instruments (meter
/// <see cref="MeterName"/>), for the card agent's exporters (Prometheus text, OTLP). Every
/// instrument is observable: values are read from the workers' own counters when a listener
/// collects, so the hot path does no extra work and takes no lock.
/// </summary>
public sealed class FirmwareMetrics : IDisposable
{
    public const string MeterName = "SnicRuntime.Firmware";

    private readonly Meter _meter;

    public FirmwareMetrics(Dataplane dataplane, PolicyStore? policy = null)
    {
        ArgumentNullException.ThrowIfNull(dataplane);
        _meter = new Meter(MeterName, "1.0");
        _meter.CreateObservableCounter("snic.worker.rx.packets", () => PerWorker(dataplane, c => c.RxPackets), "{packet}", "packets received, per worker");
        _meter.CreateObservableCounter("snic.worker.rx.bytes", () => PerWorker(dataplane, c => c.RxBytes), "By", "bytes received, per worker");
        _meter.CreateObservableCounter("snic.worker.tx.packets", () => PerWorker(dataplane, c => c.TxPackets), "{packet}", "packets transmitted, per worker");
        _meter.CreateObservableCounter("snic.worker.tx.bytes", () => PerWorker(dataplane, c => c.TxBytes), "By", "bytes transmitted, per worker");
        _meter.CreateObservableCounter("snic.worker.idle.polls", () => PerWorker(dataplane, c => c.IdlePolls), "{poll}", "polls that found no packet, per worker");
        _meter.CreateObservableCounter("snic.worker.busy.time", () => PerWorker(dataplane, c => c.BusyNanoseconds), "ns", "time spent on bursts that carried packets, per worker");
        _meter.CreateObservableGauge("snic.port.rx.queue.depth", () => QueueDepths(dataplane), "{packet}", "packets waiting in each rx queue");
        _meter.CreateObservableCounter("snic.drops", () => Drops(dataplane), "{packet}", "packets dropped, by reason");
        _meter.CreateObservableGauge("snic.flows.active", () => Flows(dataplane, f => f.Active), "{flow}", "flows in the tables");
        _meter.CreateObservableGauge("snic.flows.capacity", () => Flows(dataplane, f => f.Capacity), "{flow}", "flow table capacity");
        _meter.CreateObservableCounter("snic.flows.created", () => Flows(dataplane, f => f.Created), "{flow}", "flows created");
        _meter.CreateObservableCounter("snic.flows.aged", () => Flows(dataplane, f => f.Aged), "{flow}", "flows aged out");
        _meter.CreateObservableCounter("snic.eni.packets", () => PerEni(dataplane, policy, c => c.EniPackets), "{packet}", "packets per ENI");
        _meter.CreateObservableCounter("snic.eni.bytes", () => PerEni(dataplane, policy, c => c.EniBytes), "By", "inner bytes per ENI");
        _meter.CreateObservableCounter("snic.eni.drops", () => PerEni(dataplane, policy, c => c.EniDrops), "{packet}", "drops per ENI");
        _meter.CreateObservableGauge("snic.plan.generation", () => policy?.Current?.Generation ?? 0, "{generation}", "running change-plan generation");
    }

    // Counters are plain long fields written by their worker; on a 64-bit target a read is
    // never torn, and a value one burst old is what a collector expects.
    private static IEnumerable<Measurement<long>> PerWorker(Dataplane d, Func<WorkerCounters, long> read) =>
        d.Workers.Select(w => new Measurement<long>(read(w.Counters), new KeyValuePair<string, object?>("worker", w.Id)));

    // A plain loop, not LINQ: each new value-type element LINQ sees multiplies its generic code
    // in the NativeAOT image (the firmware's size budget is 15 MB).
    private static List<Measurement<long>> QueueDepths(Dataplane d)
    {
        var list = new List<Measurement<long>>();
        foreach (Hal.IPort p in d.Ports)
        {
            for (int q = 0; q < p.QueueCount; q++)
            {
                list.Add(new Measurement<long>(p.RxQueueDepth(q), new KeyValuePair<string, object?>("port", p.Name), new KeyValuePair<string, object?>("queue", q)));
            }
        }

        return list;
    }

    private static IEnumerable<Measurement<long>> Drops(Dataplane d) =>
        d.DropsByReason().Select(x => new Measurement<long>(x.Value, new KeyValuePair<string, object?>("reason", x.Key.ToString())));

    private static long Flows(Dataplane d, Func<FlowSummary, long> read) => read(d.FlowTotals());

    private static IEnumerable<Measurement<long>> PerEni(Dataplane d, PolicyStore? policy, Func<PipelineCounters, long[]> read)
    {
        PolicyTables? t = policy?.Current;
        if (t is null || d.Pipelines.Count == 0)
        {
            yield break;
        }

        foreach (Eni? eni in t.Enis)
        {
            if (eni is null)
            {
                continue;
            }

            long sum = 0;
            foreach (PolicyPipeline p in d.Pipelines)
            {
                sum += Volatile.Read(ref read(p.Counters)[eni.Index]);
            }

            yield return new Measurement<long>(sum, new KeyValuePair<string, object?>("eni", eni.Name));
        }
    }

    /// <summary>This instance's meter (a process may run several cards in tests: listeners match the instance, not the name).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
