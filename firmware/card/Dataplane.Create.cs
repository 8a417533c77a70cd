using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Firmware.Card;

/// <summary>The card's assembly: pool, ports through the board's HAL driver, one worker per dataplane core.</summary>
public sealed partial class Dataplane
{
    /// <summary>
    /// Checks that this build can run <paramref name="board"/> on this machine, then allocates
    /// everything the dataplane will use: pool, ports, workers and their flow tables.
    /// </summary>
    public static Dataplane Create(BoardDefinition board, DataplaneOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(board);
        options ??= new DataplaneOptions();
        CheckRunnable(board);
        HalDriver driver = HalDrivers.Of(board);
        int workers = options.Workers ?? board.Cpu.DataplaneCores;
        if (workers < 1 || workers > board.Cpu.DataplaneCores)
        {
            throw new BoardNotSupportedException($"board '{board.Id}': {workers} workers requested, the board has {board.Cpu.DataplaneCores} dataplane cores");
        }

        if (options.Stage == StageKind.Policy && options.Policy is null)
        {
            throw new ArgumentException("the policy stage needs a PolicyStore (DataplaneOptions.Policy)");
        }

        PacketPool pool;
        try
        {
            pool = driver.CreatePool(board);
        }
        catch (HalException e)
        {
            throw new BoardNotSupportedException($"board '{board.Id}': {e.Message}");
        }

        var factory = new WorkerFactory(board, options, pool);
        IPort[] ports;
        try
        {
            ports = driver.Open(board, pool, workers, new SymmetricRss(), factory);
        }
        catch (HalException e)
        {
            pool.Dispose();
            throw new BoardNotSupportedException($"board '{board.Id}': {e.Message}");
        }

        foreach (IWorker w in factory.Workers)
        {
            w.IdleSleepMs = options.IdleSleepMs;
        }

        return new Dataplane(board, pool, ports, factory.Workers, factory.Flows, factory.Pipelines);
    }

    /// <summary>
    /// Throws <see cref="BoardNotSupportedException"/> when this firmware cannot drive the board at
    /// all (its cores' architecture, its HAL driver) — the same facts the firmware checks at start
    /// (<see cref="BoardRequirements"/>), which also weighs CPUs, memory and interfaces.
    /// </summary>
    public static void CheckRunnable(BoardDefinition board)
    {
        ArgumentNullException.ThrowIfNull(board);
        SystemFacts here = SystemFacts.OfThisSystem();
        if (board.Cpu.Architecture != here.Architecture)
        {
            throw new BoardNotSupportedException($"board '{board.Id}' has {board.Cpu.Architecture} cores but this firmware was built for {here.Architecture}; build the image for {board.RuntimeIdentifier}");
        }

        if (here.DriverMissing(board.Hal.Driver) is string why)
        {
            throw new BoardNotSupportedException($"board '{board.Id}' uses HAL driver '{board.Hal.Driver}': {why}");
        }
    }

    /// <summary>
    /// Builds worker w over queue w of every port, as the driver's own queue structs: struct
    /// generics, so NativeAOT compiles one loop per driver and stage, with direct calls.
    /// </summary>
    private sealed class WorkerFactory(BoardDefinition board, DataplaneOptions options, PacketPool pool) : IQueueWiring
    {
        private readonly PortForwardStage _forward = PortForwardStage.Pairs(board.Ports.Count);

        public IWorker[] Workers { get; private set; } = [];

        public List<WorkerFlows<DefaultFlowPolicy>> Flows { get; } = [];

        public List<PolicyPipeline> Pipelines { get; } = [];

        public void Wire<TRx, TTx>(TRx[][] rx, TTx[][] tx)
            where TRx : struct, IRxQueue
            where TTx : struct, ITxQueue
        {
            Workers = new IWorker[rx.Length];
            for (int w = 0; w < rx.Length; w++)
            {
                Workers[w] = Make(w, rx[w], tx[w]);
            }
        }

        private IWorker Make<TRx, TTx>(int w, TRx[] rx, TTx[] tx)
            where TRx : struct, IRxQueue
            where TTx : struct, ITxQueue
        {
            int burst = board.Queues.Burst;
            switch (options.Stage)
            {
                case StageKind.Policy:
                    var pipeline = new PolicyPipeline(options.Policy!, options.FlowsPerWorker, options.Aging, WorkerVector.MaxPackets);
                    Pipelines.Add(pipeline);
                    return new Worker<TRx, TTx, PolicyStage>(w, rx, tx, new PolicyStage(pipeline), pool, burst);
                case StageKind.Forward:
                    return new Worker<TRx, TTx, PortForwardStage>(w, rx, tx, _forward, pool, burst);
                default:
                    var wf = new WorkerFlows<DefaultFlowPolicy>(options.FlowsPerWorker, new DefaultFlowPolicy(_forward, options.Creation), options.Aging, WorkerVector.MaxPackets);
                    Flows.Add(wf);
                    return new Worker<TRx, TTx, FlowStage<DefaultFlowPolicy>>(w, rx, tx, new FlowStage<DefaultFlowPolicy>(wf), pool, burst);
            }
        }
    }
}
