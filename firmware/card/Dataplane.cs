using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Firmware.Card;

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

    /// <summary>Milliseconds an idle worker sleeps (0: it spins and yields); see <see cref="IWorker.IdleSleepMs"/>.</summary>
    public int IdleSleepMs { get; init; }

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
public sealed partial class Dataplane : IDisposable
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
