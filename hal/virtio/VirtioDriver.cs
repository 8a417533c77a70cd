using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.Virtio;

/// <summary>
/// The card as a vhost-user backend. Arguments: <c>&lt;port&gt;.socket</c> for every board port,
/// the vhost-user socket a VM (or DPDK's virtio_user) connects to; this card is the device side.
/// </summary>
public sealed class VirtioDriver : HalDriver
{
    public override string Name => "virtio";

    public override string Capability => "vhost-user";

    public override void ValidateBoard(BoardDefinition board, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (BoardPort bp in board.Ports)
        {
            if (string.IsNullOrWhiteSpace(board.Hal.Args.GetValueOrDefault(bp.Name + ".socket")))
            {
                errors.Add($"$.hal.args: names no '{bp.Name}.socket' (the vhost-user socket of port '{bp.Name}')");
            }
        }

        foreach (string key in board.Hal.Args.Keys)
        {
            if (!key.EndsWith(".socket", StringComparison.Ordinal) || !board.Ports.Exists(p => p.Name + ".socket" == key))
            {
                errors.Add($"$.hal.args.{key}: the virtio driver takes '<port>.socket' for the board's ports ({string.Join(", ", board.Ports.Select(p => p.Name))})");
            }
        }
    }

    public override IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring)
    {
        ArgumentNullException.ThrowIfNull(board);
        VhostPort[] ports = OpenAll(board, (i, bp) => new VhostPort(SpecOf(board, i, queues), pool,
            board.Hal.Args.GetValueOrDefault(bp.Name + ".socket")
                ?? throw new VhostException($"hal.args names no '{bp.Name}.socket' (the vhost-user socket of port '{bp.Name}')")));
        WireQueues(ports, queues, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w), wiring);
        return ports;
    }

#pragma warning disable CA2255 // A driver registers itself when the HAL loads (DPDK's RTE_PMD_REGISTER_VDEV); that is the point here.
    [ModuleInitializer]
    internal static void Register() => HalDrivers.Register(new VirtioDriver());
#pragma warning restore CA2255
}
