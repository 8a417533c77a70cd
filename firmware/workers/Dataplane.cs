using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Firmware.Workers;

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

    private Dataplane(BoardDefinition board, PacketPool pool, IPort[] ports, IWorker[] workers)
    {
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
    /// everything the dataplane will use. <paramref name="workerCount"/> overrides the board's
    /// dataplane core count.
    /// </summary>
    public static Dataplane Create(BoardDefinition board, int? workerCount = null)
    {
        ArgumentNullException.ThrowIfNull(board);
        CheckRunnable(board);
        int workers = workerCount ?? board.Cpu.DataplaneCores;
        if (workers < 1 || workers > board.Cpu.DataplaneCores)
        {
            throw new BoardNotSupportedException($"board '{board.Id}': {workers} workers requested, the board has {board.Cpu.DataplaneCores} dataplane cores");
        }

        var pool = new PacketPool(board.Memory.PacketBuffers, board.Memory.BufferDataRoom, board.Memory.BufferHeadroom);
        var rss = new SymmetricRss();
        var ports = new EmulatedPort[board.Ports.Count];
        for (int i = 0; i < ports.Length; i++)
        {
            BoardPort bp = board.Ports[i];
            ports[i] = new EmulatedPort(new PortSpec(i, bp.Name, workers, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps), pool, rss);
        }

        PortForwardStage stage = PortForwardStage.Pairs(ports.Length);
        var list = new IWorker[workers];
        for (int w = 0; w < workers; w++)
        {
            var rx = new EmulatedRxQueue[ports.Length];
            var tx = new EmulatedTxQueue[ports.Length];
            for (int p = 0; p < ports.Length; p++)
            {
                rx[p] = ports[p].RxQueue(w);
                tx[p] = ports[p].TxQueue(w);
            }

            list[w] = new Worker<EmulatedRxQueue, EmulatedTxQueue, PortForwardStage>(w, rx, tx, stage, pool, board.Queues.Burst);
        }

        return new Dataplane(board, pool, ports, list);
    }

    /// <summary>Throws <see cref="BoardNotSupportedException"/> naming what is missing.</summary>
    public static void CheckRunnable(BoardDefinition board)
    {
        ArgumentNullException.ThrowIfNull(board);
        string here = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x86-64",
            Architecture.Arm64 => "arm64",
            Architecture other => other.ToString(),
        };
        if (board.Cpu.Architecture != here)
        {
            throw new BoardNotSupportedException($"board '{board.Id}' has {board.Cpu.Architecture} cores but this firmware was built for {here}; build the image for {board.RuntimeIdentifier}");
        }

        if (board.Hal.Driver != "emulated")
        {
            throw new BoardNotSupportedException($"board '{board.Id}' uses HAL driver '{board.Hal.Driver}', which is not built into this firmware yet; available: emulated");
        }
    }

    public EmulatedPort EmulatedPort(int index) => (EmulatedPort)Ports[index];

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

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        foreach (IPort p in Ports)
        {
            p.Dispose();
        }

        Pool.Dispose();
    }
}
