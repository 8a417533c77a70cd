using SnicRuntime.Firmware.Card;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Firmware.Boot;

/// <summary>
/// The emulated board's main job: a traffic generator feeds the first port, the workers forward,
/// a sink takes what leaves. Logs counters each second, stops by itself, and checks that every
/// generated packet is accounted for (forwarded, or dropped with a reason).
/// </summary>
internal sealed class EmulatedDemo(Dataplane dataplane, FirmwareOptions options, ILogger log, Pipeline.PolicyStore? policy = null)
{
    public bool Run()
    {
        EmulatedPort ingress = dataplane.EmulatedPort(0);
        var egressPorts = Enumerable.Range(0, dataplane.Ports.Count).Select(dataplane.EmulatedPort).ToArray();
        var profile = new TrafficProfile { Flows = options.Flows, RatePps = options.RatePps };
        if (policy is not null && policy.Current is null)
        {
            // A managed card with no plan yet: wait (bounded) for one to arrive through the agent.
            log.LogInformation("waiting up to {Seconds} s for a change plan from the management plane", options.PlanWaitSeconds);
            long deadline = Stopwatch.GetTimestamp() + (long)(options.PlanWaitSeconds * Stopwatch.Frequency);
            while (policy.Current is null && Stopwatch.GetTimestamp() < deadline && !FirmwareLifetime.Stopping.IsCancellationRequested)
            {
                Thread.Sleep(20);
            }

            if (policy.Current is null)
            {
                log.LogWarning("no change plan arrived; nothing to run");
                return true;
            }

            log.LogInformation("generation {Generation} received", policy.Current.Generation);
        }

        if (policy?.Current is SnicRuntime.Firmware.Plans.PolicyTables tables)
        {
            DashEndpoints? dash = DemoTraffic.From(tables, out string why);
            if (dash is null)
            {
                log.LogError("cannot make traffic for this plan: {Why}", why);
                return false;
            }

            profile = profile with { Dash = dash, Vip = tables.Vip };
            log.LogInformation("DASH traffic: {Local} local VMs behind ENIs (VNI {Out}) <-> {Remote} remote VMs (VNI {In}), VIP {Vip}",
                dash.LocalVms.Count, dash.OutboundVni, dash.RemoteVms.Count, dash.InboundVni, new System.Net.IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(tables.Vip)));
        }

        var generator = new TrafficGenerator(profile, dataplane.Pool);
        var sink = new TrafficSink(dataplane.Pool, egressPorts);

        log.LogInformation("board {Board} ({Model}): {Workers} workers, {Ports} ports, {Buffers} buffers; flows {Flows}, rate {Rate}",
            dataplane.Board.Id, dataplane.Board.Model, dataplane.Workers.Count, dataplane.Ports.Count,
            dataplane.Pool.BufferCount, profile.Flows, profile.RatePps == 0 ? "unlimited" : profile.RatePps + " pps");

        using var stopSink = new CancellationTokenSource();
        dataplane.Start();
        var sinkThread = new Thread(() => sink.Run(stopSink.Token, options.IdleSleepMs)) { IsBackground = true, Name = "snic-wire-sink" };
        sinkThread.Start();
        long started = Stopwatch.GetTimestamp();
        var genThread = new Thread(() => generator.Run(ingress, TimeSpan.FromSeconds(options.Seconds), FirmwareLifetime.Stopping))
        {
            IsBackground = true,
            Name = "snic-wire-generator",
        };
        genThread.Start();

        ReportEverySecond(genThread, sink);

        // Let the rings empty, then stop workers and take the last packets off the wire.
        var drainDeadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 2;
        while ((egressPorts.Sum(p => p.RxPending + p.TxPending) > 0 || Held > 0) && Stopwatch.GetTimestamp() < drainDeadline)
        {
            Thread.Sleep(1);
        }

        if (!dataplane.Stop(TimeSpan.FromSeconds(5)))
        {
            log.LogError("a worker did not stop within 5 s");
            return false;
        }

        stopSink.Cancel();
        sinkThread.Join();
        if (sink.FirstPacketTimestamp != 0)
        {
            double firstMs = Stopwatch.GetElapsedTime(Program.MainEntered, sink.FirstPacketTimestamp).TotalMilliseconds;
            log.LogInformation("main() to first forwarded packet: {Ms:F1} ms (board load, pool, tables, threads, first burst)", firstMs);
        }

        return Summarise(generator, sink, ingress);
    }

    private long Held => dataplane.Pipelines.Sum(p => (long)(p.Hold?.Count ?? 0));

    private void ReportEverySecond(Thread genThread, TrafficSink sink)
    {
        WorkerSnapshot last = dataplane.TotalCounters();
        long[] lastPerWorker = dataplane.Workers.Select(w => w.Counters.Snapshot().RxPackets).ToArray();
        int second = 0;
        while (!genThread.Join(TimeSpan.FromSeconds(1)))
        {
            second++;
            WorkerSnapshot now = dataplane.TotalCounters();
            string perWorker = string.Join(" ", dataplane.Workers.Select(w =>
            {
                long rx = w.Counters.Snapshot().RxPackets;
                string s = $"w{w.Id}={(rx - lastPerWorker[w.Id]) / 1e6:F2}";
                lastPerWorker[w.Id] = rx;
                return s;
            }));
            log.LogInformation("t={Second}s rx {Rx:F2} Mpps tx {Tx:F2} Mpps {Gbps:F2} Gb/s drops {Drops} pool-free {Free} wire-out {Sink} [{PerWorker} Mpps]",
                second, (now.RxPackets - last.RxPackets) / 1e6, (now.TxPackets - last.TxPackets) / 1e6,
                (now.TxBytes - last.TxBytes) * 8 / 1e9, now.Drops, dataplane.Pool.Available, sink.Packets, perWorker);
            last = now;
        }
    }

    private bool Summarise(TrafficGenerator generator, TrafficSink sink, EmulatedPort ingress)
    {
        WorkerSnapshot total = dataplane.TotalCounters();
        Hal.PortCounters port0 = ingress.ReadCounters();
        long missed = port0.RxRingFullDrops + ingress.WireLinkDownDrops;
        log.LogInformation("generated {Gen} packets in {Flows} flows ({Done} finished); NIC missed {Missed}; workers rx {Rx} tx {Tx} dropped {Drops}; wire received {Sink}",
            generator.Packets, generator.FlowsStarted, generator.FlowsFinished, missed, total.RxPackets, total.TxPackets, total.Drops, sink.Packets);
        FlowSummary flows = dataplane.FlowTotals();
        if (flows.Capacity > 0)
        {
            log.LogInformation("flows: created {Created} aged {Aged} active {Active}/{Capacity} table-full {Full}; lookups hit {Hits} missed {Misses}",
                flows.Created, flows.Aged, flows.Active, flows.Capacity, flows.InsertFailedFull, flows.Hits, flows.Misses);
        }

        if (dataplane.Pipelines.Count > 0)
        {
            long outbound = dataplane.Pipelines.Sum(p => p.Counters.Outbound), inbound = dataplane.Pipelines.Sum(p => p.Counters.Inbound);
            long encap = dataplane.Pipelines.Sum(p => p.Counters.Encapsulated), acl = dataplane.Pipelines.Sum(p => p.Counters.AclEvaluations);
            log.LogInformation("pipeline: outbound {Out} inbound {In} encapsulated {Encap}; slow path: {Acl} ACL evaluations, {Routes} route and {Maps} mapping lookups",
                outbound, inbound, encap, acl, dataplane.Pipelines.Sum(p => p.Counters.RouteLookups), dataplane.Pipelines.Sum(p => p.Counters.MappingLookups));
        }

        foreach ((DropReason reason, long count) in dataplane.DropsByReason())
        {
            log.LogInformation("  dropped {Count} for {Reason}", count, reason);
        }

        // HA: first packets still waiting for a standby that stopped answering are held, not lost.
        long held = Held;
        if (held > 0)
        {
            log.LogWarning("{Held} packets still held for the HA peer's acknowledgement", held);
        }

        bool conserved = generator.Packets == missed + total.RxPackets
            && total.RxPackets == total.TxPackets + total.Drops + held
            && total.TxPackets == sink.Packets
            && dataplane.Pool.Available + held == dataplane.Pool.BufferCount;
        if (conserved)
        {
            log.LogInformation("conservation: every packet accounted for; all {Buffers} buffers back in the pool", dataplane.Pool.BufferCount);
        }
        else
        {
            log.LogError("conservation FAILED: generated {Gen} = missed {Missed} + rx {Rx}? rx = tx {Tx} + drops {Drops}? tx = wire {Sink}? pool {Free}/{Buffers}",
                generator.Packets, missed, total.RxPackets, total.TxPackets, total.Drops, sink.Packets, dataplane.Pool.Available, dataplane.Pool.BufferCount);
        }

        return conserved;
    }
}
