using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware;
using System.Diagnostics;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Bench;

/// <summary>
/// The pipeline benchmarks of bench/run.sh: <c>cps</c> (connection setup per worker) and
/// <c>fastpath</c> (flow hit + VXLAN encap). One worker on emulated ports, as on the card; only
/// the worker's poll (rx burst, parse, pipeline, tx burst) is timed. Writing the frames into
/// buffers and draining the tx ring play the NIC's part and are outside the timed region.
/// </summary>
internal static class PipelineRuns
{
    private const int MaxVector = WorkerVector.MaxPackets;
    private static readonly PacketRef[] s_burst = new PacketRef[MaxVector];
    private static readonly PacketRef[] s_drained = new PacketRef[MaxVector * 2];

    public static int Run(string mode, string[] args)
    {
        Dictionary<string, string>? a = PeerTiming.Arguments(mode, args, "--flows", "--rules", "--prefixes", "--routes", "--mappings", "--packets", "--burst", "--vector");
        if (a is null)
        {
            return 2;
        }

        int flows = (int)PeerTiming.Long(a, "--flows", 1_000_000);
        int rules = (int)PeerTiming.Long(a, "--rules", 1000);
        int prefixes = (int)PeerTiming.Long(a, "--prefixes", 100);
        int routes = (int)PeerTiming.Long(a, "--routes", 100_000);
        int mappings = (int)PeerTiming.Long(a, "--mappings", 1_000_000);
        long packets = PeerTiming.Long(a, "--packets", 4_000_000);
        int burst = (int)PeerTiming.Long(a, "--burst", 32);
        int vector = (int)PeerTiming.Long(a, "--vector", WorkerVector.MaxPackets);
        if (flows < 1 || rules < 1 || prefixes < 1 || routes < 1 || mappings < 0 || packets < 1 || burst < 1 || vector < burst || vector > MaxVector)
        {
            Console.Error.WriteLine($"{mode}: --flows, --rules, --prefixes, --routes and --packets must be at least 1, --mappings at least 0, --burst 1..--vector, --vector up to {MaxVector}");
            return 2;
        }

        var setup = Stopwatch.StartNew();
        ChangePlan plan = DashScalePlan.Build(rules, prefixes, routes, Math.Max(mappings, 1), out uint[] cas);
        var store = new PolicyStore(1);
        ApplyResult applied = store.Apply(plan);
        if (!applied.Accepted)
        {
            Console.Error.WriteLine($"{mode}: generated plan refused: {applied.Errors[0]}");
            return 1;
        }

        Console.Error.WriteLine($"{mode}: plan compiled in {setup.Elapsed.TotalSeconds:F1} s ({rules} rules x {prefixes} prefixes x 3 stages, {routes} routes, {cas.Length} mappings)");

        // Each flow: a distinct (source port, destination CA) from the VM to a mapped CA, 64-byte inner frame.
        // A tenth more flows than timed: the first ones warm the JIT (tiered compilation) and caches.
        int warm = Math.Max(flows / 10, 10_000);
        byte[][] frames = new byte[flows + warm][];
        var rng = new Random(2);
        for (int f = 0; f < frames.Length; f++)
        {
            uint dst = cas[rng.Next(cas.Length)];
            // Source (address, port) is unique per flow by construction; no two frames share a 5-tuple.
            frames[f] = Frame(0x0A01_0100u + (uint)(f >> 15), dst, (ushort)(5000 + (f & 0x7FFF)), (ushort)(5000 + f % 1000));
        }

        using var pool = new PacketPool(4096, dataRoom: 512);
        using var port = new EmulatedPort(new PortSpec(0, "port0", 1, 1024, 1024, 100), pool, rss: null);
        using var pipeline = new PolicyPipeline(store, (flows + warm) * 5 / 4);
        var worker = new Worker<EmulatedRxQueue, EmulatedTxQueue, PolicyStage>(0, [port.RxQueue(0)], [port.TxQueue(0)], new PolicyStage(pipeline), pool, burst, vector);

        // CPS: every packet is a new flow. Fast path: create all flows first, then time hits in random order.
        Pass(InSendOrder(frames, Enumerable.Range(flows, warm).ToArray()), pool, port, worker, vector);
        double createNs = Pass(InSendOrder(frames, Enumerable.Range(0, flows).ToArray()), pool, port, worker, vector);
        long created = pipeline.Counters.FlowsCreated - warm;
        if (created != flows)
        {
            Console.Error.WriteLine($"{mode}: {created} flows created of {flows}; drops: {Drops(worker)}");
            return 1;
        }

        if (mode == "cps")
        {
            double cps = 1e9 / createNs;
            Console.WriteLine(FormattableString.Invariant(
                $"cps acl3x{rules}x{prefixes}-routes{routes}-mappings{cas.Length} cps_per_core={cps:F0} ns_per_connection={createNs:F1} flows={flows}"));
            return 0;
        }

        int[] order = Enumerable.Range(0, flows).OrderBy(_ => rng.Next()).ToArray();
        Pass(InSendOrder(frames, order.AsSpan(0, Math.Min(warm, flows)).ToArray()), pool, port, worker, vector);
        FrameRing wire = InSendOrder(frames, order);
        // Settle the heap the setup left (plan compile, frames, the shuffle) so a collection it
        // was due cannot land in the timed region; then the timed region must allocate nothing
        // and see no collection.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long gc0 = GC.CollectionCount(0);
        long allocated0 = GC.GetAllocatedBytesForCurrentThread();
        long hits0 = pipeline.Counters.FlowHits;
        // At least --packets timed packets (several passes over a small flow set), so short runs
        // are not noise; more make the timed region dominate a profile.
        int passes = (int)Math.Max(1, packets / flows);
        double hitNs = 0;
        for (int pass = 0; pass < passes; pass++)
        {
            hitNs += Pass(wire, pool, port, worker, vector) / passes;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocated0;
        long hits = pipeline.Counters.FlowHits - hits0;
        if (hits < (long)flows * passes - vector || GC.CollectionCount(0) != gc0 || allocated != 0)
        {
            Console.Error.WriteLine($"fastpath: {hits} hits of {flows * passes}, gen0 collections {GC.CollectionCount(0) - gc0}, {allocated} bytes allocated; drops: {Drops(worker)}");
            return 1;
        }

        Console.WriteLine(FormattableString.Invariant(
            $"fastpath vxlan-encap-64B-inner-{flows}flows mpps_per_core={1e3 / hitNs:F2} ns_per_packet={hitNs:F1} gc0_during_run=0 bytes_allocated=0"));
        return 0;
    }

    /// <summary>Frames back to back in send order, all of one length.</summary>
    private sealed record FrameRing(byte[] Bytes, int FrameLength)
    {
        public int Count => Bytes.Length / FrameLength;
    }

    /// <summary>
    /// The frames in <paramref name="order"/>, laid out as a NIC's DMA reads a ring: the copy that
    /// plays the NIC's part then streams through memory. Copied from a million scattered arrays,
    /// that (untimed) copy evicted the timed region's TLB entries and cache lines every burst,
    /// which a DMA engine does not do.
    /// </summary>
    private static FrameRing InSendOrder(byte[][] frames, int[] order)
    {
        int length = frames[0].Length;
        var bytes = new byte[(long)order.Length * length];
        for (int j = 0; j < order.Length; j++)
        {
            frames[order[j]].CopyTo(bytes, (long)j * length);
        }

        return new FrameRing(bytes, length);
    }

    /// <summary>
    /// Feeds the wire's frames through the worker, a vector's worth per poll (a loaded NIC: its rx
    /// ring always holds more than the worker takes); returns ns per packet of worker time.
    /// </summary>
    private static double Pass(FrameRing wire, PacketPool pool, EmulatedPort port, IWorker worker, int perPoll)
    {
        // The harness's own buffers, made once: the allocation check covers the whole timed loop.
        PacketRef[] burst = s_burst, drained = s_drained;
        int count = wire.Count, length = wire.FrameLength;
        long ticks = 0;
        int done = 0;
        while (done < count)
        {
            int n = Math.Min(perPoll, count - done);
            pool.AllocBulk(burst.AsSpan(0, n));
            for (int k = 0; k < n; k++)
            {
                burst[k].SetLength(length);
                wire.Bytes.AsSpan((done + k) * length, length).CopyTo(burst[k].Data);
            }

            port.Inject(burst.AsSpan(0, n));
            long t0 = Stopwatch.GetTimestamp();
            worker.PollOnce();
            ticks += Stopwatch.GetTimestamp() - t0;
            int out_;
            while ((out_ = port.Drain(drained)) > 0)
            {
                pool.FreeBulk(drained.AsSpan(0, out_));
            }

            done += n;
        }

        return ticks * (1e9 / Stopwatch.Frequency) / count;
    }

    private static string Drops(IWorker worker) => string.Join(", ", worker.Counters.Drops
        .Select((n, r) => (n, r)).Where(x => x.n != 0).Select(x => $"{(DropReason)x.r}={x.n}"));

    /// <summary>VXLAN from the VM's host to the VIP around a 64-byte inner Ethernet/IPv4/UDP frame.</summary>
    private static byte[] Frame(uint src, uint dst, ushort sport, ushort dport)
    {
        const int inner = 64;
        var f = new byte[50 + inner];
        byte[] appliance = [2, 0, 0, 0, 1, 0], host = [2, 0, 0, 0, 0, 0x99], eni = [0, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc], gw = [0, 0xee, 0xee, 0xee, 0xee, 0xee];
        int o = HeaderWriter.Ethernet(f, appliance, host, EtherTypes.Ipv4);
        o += HeaderWriter.Ipv4(f.AsSpan(o), 0xAC10_0101u, 0xAC10_0164u, IpProtocols.Udp, 16 + inner);
        o += HeaderWriter.Udp(f.AsSpan(o), 50000, TunnelPorts.Vxlan, 8 + inner);
        o += HeaderWriter.Vxlan(f.AsSpan(o), 100);
        int l2 = o;
        o += HeaderWriter.Ethernet(f.AsSpan(o), gw, eni, EtherTypes.Ipv4);
        o += HeaderWriter.Ipv4(f.AsSpan(o), src, dst, IpProtocols.Udp, inner - 34);
        HeaderWriter.Udp(f.AsSpan(o), sport, dport, inner - 42);
        HeaderWriter.FinishL4Checksum(f.AsSpan(l2 + 14), f.AsSpan(o), false, IpProtocols.Udp);
        return f;
    }
}
