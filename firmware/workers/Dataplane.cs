using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Firmware.Workers;

/// <summary>What the workers run between parse and transmit.</summary>
public enum StageKind
{
    /// <summary>Cross-connect, no state (l2fwd-like).</summary>
    Forward,
    /// <summary>The flow table with the default flow policy.</summary>
    Flows,
    /// <summary>The SDN policy pipeline (ENI, ACL, routing, mapping, encap) of the applied change plan.</summary>
    Policy,
}

public sealed record DataplaneOptions
{
    /// <summary>Overrides the board's dataplane core count.</summary>
    public int? Workers { get; init; }

    public StageKind Stage { get; init; } = StageKind.Flows;

    /// <summary>Flow table capacity per worker and per address family.</summary>
    public int FlowsPerWorker { get; init; } = 262_144;

    public FlowCreation Creation { get; init; } = FlowCreation.TcpSynOnly;

    public AgingPolicy? Aging { get; init; }

    /// <summary>Where the policy stage reads the running generation (required for <see cref="StageKind.Policy"/>).</summary>
    public Pipeline.PolicyStore? Policy { get; init; }
}

public readonly record struct FlowSummary(long Created, long Aged, long Deleted, long InsertFailedFull, long Hits, long Misses, long Active, long Capacity);

/// <summary>A board this build cannot run, with the reason in plain words.</summary>
public sealed class BoardNotSupportedException(string message) : Exception(message);

/// <summary>
/// The running dataplane of one card: the packet pool, the ports, one worker thread per
/// dataplane core. Built from a board file.
/// </summary>
public sealed class Dataplane : IDisposable
{
    private readonly Thread[] _threads;
    private bool _started;

    private readonly List<WorkerFlows<DefaultFlowPolicy>> _flows;
    private readonly List<Pipeline.PolicyPipeline> _pipelines;

    private Dataplane(BoardDefinition board, PacketPool pool, IPort[] ports, IWorker[] workers, List<WorkerFlows<DefaultFlowPolicy>> flows, List<Pipeline.PolicyPipeline> pipelines)
    {
        _flows = flows;
        _pipelines = pipelines;
        Board = board;
        Pool = pool;
        Ports = ports;
        Workers = workers;
        _threads = new Thread[workers.Length];
    }

    public BoardDefinition Board { get; }

    public PacketPool Pool { get; }

    public IReadOnlyList<IPort> Ports { get; }

    public IReadOnlyList<IWorker> Workers { get; }

    /// <summary>
    /// Checks that this build can run <paramref name="board"/> on this machine, then allocates
    /// everything the dataplane will use: pool, ports, workers and their flow tables.
    /// </summary>
    public static Dataplane Create(BoardDefinition board, DataplaneOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(board);
        options ??= new DataplaneOptions();
        CheckRunnable(board);
        int workers = options.Workers ?? board.Cpu.DataplaneCores;
        if (workers < 1 || workers > board.Cpu.DataplaneCores)
        {
            throw new BoardNotSupportedException($"board '{board.Id}': {workers} workers requested, the board has {board.Cpu.DataplaneCores} dataplane cores");
        }

        PacketPool pool = board.Hal.Driver == "dpdk" ? DpdkBoardPool(board)
            : new PacketPool(board.Memory.PacketBuffers, board.Memory.BufferDataRoom, board.Memory.BufferHeadroom);
        if (options.Stage == StageKind.Policy && options.Policy is null)
        {
            throw new ArgumentException("the policy stage needs a PolicyStore (DataplaneOptions.Policy)");
        }

        var list = new IWorker[workers];
        var flows = new List<WorkerFlows<DefaultFlowPolicy>>();
        var pipelines = new List<Pipeline.PolicyPipeline>();
        PortForwardStage forward = PortForwardStage.Pairs(board.Ports.Count);

        // One worker per core over the driver's own queue types (struct generics: NativeAOT
        // compiles one loop per driver and stage, with direct calls).
        IWorker Make<TRx, TTx>(int w, TRx[] rx, TTx[] tx)
            where TRx : struct, IRxQueue
            where TTx : struct, ITxQueue
        {
            switch (options.Stage)
            {
                case StageKind.Policy:
                    var pipeline = new Pipeline.PolicyPipeline(options.Policy!, options.FlowsPerWorker, options.Aging, WorkerVector.MaxPackets);
                    pipelines.Add(pipeline);
                    return new Worker<TRx, TTx, Pipeline.PolicyStage>(w, rx, tx, new Pipeline.PolicyStage(pipeline), pool, board.Queues.Burst);
                case StageKind.Forward:
                    return new Worker<TRx, TTx, PortForwardStage>(w, rx, tx, forward, pool, board.Queues.Burst);
                default:
                    var wf = new WorkerFlows<DefaultFlowPolicy>(options.FlowsPerWorker, new DefaultFlowPolicy(forward, options.Creation), options.Aging, WorkerVector.MaxPackets);
                    flows.Add(wf);
                    return new Worker<TRx, TTx, FlowStage<DefaultFlowPolicy>>(w, rx, tx, new FlowStage<DefaultFlowPolicy>(wf), pool, board.Queues.Burst);
            }
        }

        // Worker w gets queue w of every port, as the driver's own queue structs. Loops, not LINQ,
        // over the queue structs: LINQ over a new value type multiplies generic code in the image.
        void Wire<TPort, TRx, TTx>(TPort[] opened, Func<TPort, int, TRx> rxOf, Func<TPort, int, TTx> txOf)
            where TRx : struct, IRxQueue
            where TTx : struct, ITxQueue
        {
            for (int w = 0; w < workers; w++)
            {
                var rx = new TRx[opened.Length];
                var tx = new TTx[opened.Length];
                for (int p = 0; p < opened.Length; p++)
                {
                    rx[p] = rxOf(opened[p], w);
                    tx[p] = txOf(opened[p], w);
                }

                list[w] = Make(w, rx, tx);
            }
        }

        IPort[] ports;
        if (board.Hal.Driver == "pcap")
        {
            // args: "<port>.rx" (capture to read) and "<port>.tx" (capture to write) per board port.
            if (workers != 1)
            {
                throw new BoardNotSupportedException($"board '{board.Id}': capture-file ports have one queue; run it with one worker, not {workers}");
            }

            var files = new Hal.Pcap.PcapPort[board.Ports.Count];
            for (int i = 0; i < files.Length; i++)
            {
                BoardPort bp = board.Ports[i];
                board.Hal.Args.TryGetValue(bp.Name + ".rx", out string? rxPath);
                board.Hal.Args.TryGetValue(bp.Name + ".tx", out string? txPath);
                files[i] = new Hal.Pcap.PcapPort(new PortSpec(i, bp.Name, 1, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps), pool, rxPath, txPath);
            }

            var rx = new Hal.Pcap.PcapRxQueue[files.Length];
            var tx = new Hal.Pcap.PcapTxQueue[files.Length];
            for (int p = 0; p < files.Length; p++)
            {
                rx[p] = files[p].RxQueue();
                tx[p] = files[p].TxQueue();
            }

            list[0] = Make(0, rx, tx);
            ports = files;
        }
        else if (board.Hal.Driver == "afpacket")
        {
            // args: "interfaces" (Linux interface per board port, in order; default the port
            // names), "netns" (a network namespace to open them in).
            string[] names = board.Hal.Args.TryGetValue("interfaces", out string? list0) ? list0.Split(',', StringSplitOptions.TrimEntries)
                : [.. board.Ports.Select(p => p.Name)];
            if (names.Length != board.Ports.Count)
            {
                throw new BoardNotSupportedException($"board '{board.Id}': hal.args.interfaces names {names.Length} interfaces for {board.Ports.Count} ports");
            }

            board.Hal.Args.TryGetValue("netns", out string? netns);
            // "rxRing": "false" receives with recvmmsg instead of the TPACKET_V3 ring (kernels without it).
            bool rxRing = !(board.Hal.Args.TryGetValue("rxRing", out string? ringArg) && ringArg == "false");
            var afp = new Hal.AfPacket.AfPacketPort[names.Length];
            try
            {
                for (int i = 0; i < afp.Length; i++)
                {
                    BoardPort bp = board.Ports[i];
                    afp[i] = Hal.AfPacket.AfPacketPort.Open(new PortSpec(i, bp.Name, workers, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps), pool, names[i], netns, board.Queues.Burst, rxRing);
                }
            }
            catch (Hal.AfPacket.AfPacketException e)
            {
                foreach (Hal.AfPacket.AfPacketPort? p in afp)
                {
                    p?.Dispose();
                }

                pool.Dispose();
                throw new BoardNotSupportedException($"board '{board.Id}': {e.Message}");
            }

            Wire(afp, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w));

            ports = afp;
        }
        else if (board.Hal.Driver == "virtio")
        {
            // args: "<port>.socket" per board port: the vhost-user socket a VM (or DPDK's
            // virtio_user) connects to; this card is the device side.
            var vhost = new Hal.Virtio.VhostPort[board.Ports.Count];
            try
            {
                for (int i = 0; i < vhost.Length; i++)
                {
                    BoardPort bp = board.Ports[i];
                    string socket = board.Hal.Args.GetValueOrDefault(bp.Name + ".socket")
                        ?? throw new Hal.Virtio.VhostException($"hal.args names no '{bp.Name}.socket' (the vhost-user socket of port '{bp.Name}')");
                    vhost[i] = new Hal.Virtio.VhostPort(new PortSpec(i, bp.Name, workers, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps), pool, socket);
                }
            }
            catch (Hal.Virtio.VhostException e)
            {
                foreach (Hal.Virtio.VhostPort? p in vhost)
                {
                    p?.Dispose();
                }

                pool.Dispose();
                throw new BoardNotSupportedException($"board '{board.Id}': {e.Message}");
            }

            Wire(vhost, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w));

            ports = vhost;
        }
        else if (board.Hal.Driver == "dpdk")
        {
            // args: "eal" (the EAL's arguments); each board port's "device" names its DPDK device
            // (a vdev given to the EAL with --vdev, or a PCI address given with -a).
            var dpdk = new Hal.Dpdk.DpdkPort[board.Ports.Count];
            try
            {
                for (int i = 0; i < dpdk.Length; i++)
                {
                    BoardPort bp = board.Ports[i];
                    dpdk[i] = Hal.Dpdk.DpdkPort.Open(new PortSpec(i, bp.Name, workers, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps), pool,
                        bp.Device ?? throw new Hal.Dpdk.DpdkException($"port '{bp.Name}' names no DPDK device (ports[].device)"), board.Queues.Burst);
                }
            }
            catch (Hal.Dpdk.DpdkException e)
            {
                foreach (Hal.Dpdk.DpdkPort? p in dpdk)
                {
                    p?.Dispose();
                }

                pool.Dispose();
                throw new BoardNotSupportedException($"board '{board.Id}': {e.Message}");
            }

            Wire(dpdk, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w));

            ports = dpdk;
        }
        else
        {
            var rss = new SymmetricRss();
            var emulated = new EmulatedPort[board.Ports.Count];
            for (int i = 0; i < emulated.Length; i++)
            {
                BoardPort bp = board.Ports[i];
                emulated[i] = new EmulatedPort(new PortSpec(i, bp.Name, workers, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps), pool, rss);
            }

            Wire(emulated, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w));

            ports = emulated;
        }

        return new Dataplane(board, pool, ports, list, flows, pipelines);
    }

    /// <summary>
    /// A DPDK board's pool is an mbuf pool (ports receive into it and send from it without a copy),
    /// so the EAL starts first, with the board's "eal" arguments.
    /// </summary>
    private static PacketPool DpdkBoardPool(BoardDefinition board)
    {
        try
        {
            Hal.Dpdk.DpdkEal.Init(board.Hal.Args.GetValueOrDefault("eal", ""));
            return Hal.Dpdk.DpdkPool.Create(board.Memory.PacketBuffers, board.Memory.BufferDataRoom, board.Memory.BufferHeadroom);
        }
        catch (Hal.Dpdk.DpdkException e)
        {
            throw new BoardNotSupportedException($"board '{board.Id}': {e.Message}");
        }
    }

    /// <summary>
    /// Throws <see cref="BoardNotSupportedException"/> when this firmware cannot drive the board at
    /// all (its cores' architecture, its HAL driver) — the same facts the firmware checks at start
    /// (<see cref="Boot.BoardRequirements"/>), which also weighs CPUs, memory and interfaces.
    /// </summary>
    public static void CheckRunnable(BoardDefinition board)
    {
        ArgumentNullException.ThrowIfNull(board);
        Boot.SystemFacts here = Boot.SystemFacts.OfThisSystem();
        if (board.Cpu.Architecture != here.Architecture)
        {
            throw new BoardNotSupportedException($"board '{board.Id}' has {board.Cpu.Architecture} cores but this firmware was built for {here.Architecture}; build the image for {board.RuntimeIdentifier}");
        }

        if (here.DriverMissing(board.Hal.Driver) is string why)
        {
            throw new BoardNotSupportedException($"board '{board.Id}' uses HAL driver '{board.Hal.Driver}': {why}");
        }

        if (board.Hal.Driver == "afpacket" && !OperatingSystem.IsLinux())
        {
            throw new BoardNotSupportedException($"board '{board.Id}' uses AF_PACKET, which is Linux only");
        }
    }

    public EmulatedPort EmulatedPort(int index) => (EmulatedPort)Ports[index];

    /// <summary>The worker that owns flows with this symmetric RSS hash (every port steers alike).</summary>
    /// <remarks>AF_PACKET fanout spreads by the kernel's own flow hash, which HA sync cannot predict yet: HA runs on emulated ports for now.</remarks>
    public int WorkerOfFlowHash(uint hash) => Ports[0] is EmulatedPort e ? e.QueueForHash(hash) : (int)(hash % (uint)Workers.Count);

    /// <summary>True between <see cref="Start"/> and a completed <see cref="Stop"/>.</summary>
    public bool Running => Volatile.Read(ref _started);

    public void Start()
    {
        if (_started)
        {
            throw new InvalidOperationException("the dataplane is already running");
        }

        _started = true;
        for (int i = 0; i < Workers.Count; i++)
        {
            IWorker worker = Workers[i];
            _threads[i] = new Thread(worker.Run) { IsBackground = true, Name = $"snic-worker-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Asks every worker to stop after its current burst and waits for them.</summary>
    public bool Stop(TimeSpan timeout)
    {
        if (!_started)
        {
            return true;
        }

        foreach (IWorker w in Workers)
        {
            w.RequestStop();
        }

        bool all = true;
        foreach (Thread t in _threads)
        {
            all &= t.Join(timeout);
        }

        _started = !all;
        return all;
    }

    public WorkerSnapshot TotalCounters()
    {
        long rp = 0, rb = 0, tp = 0, tb = 0, d = 0, bu = 0, idle = 0;
        foreach (IWorker w in Workers)
        {
            WorkerSnapshot s = w.Counters.Snapshot();
            rp += s.RxPackets;
            rb += s.RxBytes;
            tp += s.TxPackets;
            tb += s.TxBytes;
            d += s.Drops;
            bu += s.Bursts;
            idle += s.IdlePolls;
        }

        return new WorkerSnapshot(rp, rb, tp, tb, d, bu, idle);
    }

    /// <summary>Drops by reason, summed over workers; only reasons with a count.</summary>
    public IReadOnlyDictionary<DropReason, long> DropsByReason()
    {
        var result = new SortedDictionary<DropReason, long>();
        foreach (IWorker w in Workers)
        {
            for (int r = 1; r < (int)DropReason.Count; r++)
            {
                long v = Volatile.Read(ref w.Counters.Drops[r]);
                if (v != 0)
                {
                    result[(DropReason)r] = result.GetValueOrDefault((DropReason)r) + v;
                }
            }
        }

        return result;
    }

    /// <summary>Flow counters summed over workers (zero when the stage has no flow table).</summary>
    public FlowSummary FlowTotals()
    {
        // Each worker's tables, whichever stage owns them: (IPv4, IPv6, lookup hits, misses).
        var tables = _flows.Select(f => (f.V4, f.V6, Volatile.Read(ref f.Counters.Hits), Volatile.Read(ref f.Counters.Misses)))
            .Concat(_pipelines.Select(p => (p.V4, p.V6, Volatile.Read(ref p.Counters.FlowHits), Volatile.Read(ref p.Counters.FlowMisses))));
        long created = 0, aged = 0, deleted = 0, full = 0, hits = 0, misses = 0, active = 0, capacity = 0;
        foreach ((FlowTable<FlowKeyV4> v4, FlowTable<FlowKeyV6> v6, long h, long m) in tables)
        {
            foreach (FlowTableCounters c in new[] { v4.Counters, v6.Counters })
            {
                created += Volatile.Read(ref c.Created);
                deleted += Volatile.Read(ref c.Deleted);
                full += Volatile.Read(ref c.InsertFailedFull);
                aged += c.TotalAged;
            }

            hits += h;
            misses += m;
            active += v4.Count + v6.Count;
            capacity += v4.Capacity + v6.Capacity;
        }

        return new FlowSummary(created, aged, deleted, full, hits, misses, active, capacity);
    }

    /// <summary>The workers' policy pipelines (empty unless the stage is <see cref="StageKind.Policy"/>).</summary>
    public IReadOnlyList<Pipeline.PolicyPipeline> Pipelines => _pipelines;

    public IReadOnlyList<WorkerFlows<DefaultFlowPolicy>> WorkerFlowTables => _flows;

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        foreach (WorkerFlows<DefaultFlowPolicy> f in _flows)
        {
            f.Dispose();
        }

        foreach (Pipeline.PolicyPipeline p in _pipelines)
        {
            p.Dispose();
        }

        foreach (IPort p in Ports)
        {
            p.Dispose();
        }

        Pool.Dispose();
    }
}
