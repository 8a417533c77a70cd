using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.Dpdk;

/// <summary>
/// Ports through DPDK poll-mode drivers. Arguments: <c>eal</c>, the EAL's command line; each board
/// port's <c>device</c> names its DPDK device (a vdev given to the EAL with --vdev, or a PCI
/// address given with -a). The pool is an mbuf pool, so ports receive into our buffers and send
/// from them without a copy; the EAL starts before it.
/// </summary>
public sealed class DpdkDriver : HalDriver
{
    public override string Name => "dpdk";

    public override void ValidateBoard(BoardDefinition board, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(errors);
        for (int i = 0; i < board.Ports.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(board.Ports[i].Device))
            {
                errors.Add($"$.ports[{i}].device: the dpdk driver needs the port's DPDK device (a vdev or a PCI address)");
            }
        }

        foreach (string key in board.Hal.Args.Keys)
        {
            if (key != "eal")
            {
                errors.Add($"$.hal.args.{key}: the dpdk driver takes only 'eal' (the EAL's arguments)");
            }
        }
    }

    /// <summary>Null when the C shim over libdpdk loads.</summary>
    public override string? Unavailable()
    {
        try
        {
            DpdkEal.EnsureShim();
            return null;
        }
        catch (DpdkException e)
        {
            return "not built into this firmware: " + e.Message;
        }
    }

    public override PacketPool CreatePool(BoardDefinition board)
    {
        ArgumentNullException.ThrowIfNull(board);
        DpdkEal.Init(board.Hal.Args.GetValueOrDefault("eal", ""));
        return DpdkPool.Create(board.Memory.PacketBuffers, board.Memory.BufferDataRoom, board.Memory.BufferHeadroom);
    }

    public override IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring)
    {
        ArgumentNullException.ThrowIfNull(board);
        DpdkPort[] ports = OpenAll(board, (i, bp) => DpdkPort.Open(SpecOf(board, i, queues), pool,
            bp.Device ?? throw new DpdkException($"port '{bp.Name}' names no DPDK device (ports[].device)"), board.Queues.Burst));
        WireQueues(ports, queues, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w), wiring);
        return ports;
    }

#pragma warning disable CA2255 // A driver registers itself when the HAL loads (DPDK's RTE_PMD_REGISTER_VDEV); that is the point here.
    [ModuleInitializer]
    internal static void Register() => HalDrivers.Register(new DpdkDriver());
#pragma warning restore CA2255
}
