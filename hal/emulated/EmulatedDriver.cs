using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.Emulated;

/// <summary>The emulated driver: in-memory ports, the default for tests, demos and benchmarks. It takes no arguments.</summary>
public sealed class EmulatedDriver : HalDriver
{
    public override string Name => "emulated";

    public override string Capability => "emulated-io";

    public override void ValidateBoard(BoardDefinition board, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (string key in board.Hal.Args.Keys)
        {
            errors.Add($"$.hal.args.{key}: the emulated driver takes no arguments");
        }
    }

    public override IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring)
    {
        EmulatedPort[] ports = OpenAll(board, (i, _) => new EmulatedPort(SpecOf(board, i, queues), pool, rss));
        WireQueues(ports, queues, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w), wiring);
        return ports;
    }

#pragma warning disable CA2255 // A driver registers itself when the HAL loads (DPDK's RTE_PMD_REGISTER_VDEV); that is the point here.
    [ModuleInitializer]
    internal static void Register() => HalDrivers.Register(new EmulatedDriver());
#pragma warning restore CA2255
}
