using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.Pcap;

/// <summary>
/// Capture files as ports. Arguments: <c>&lt;port&gt;.rx</c> (the capture a port reads) and
/// <c>&lt;port&gt;.tx</c> (the capture it writes) per board port, both optional. A file has one
/// queue, so the card runs one worker.
/// </summary>
public sealed class PcapDriver : HalDriver
{
    public override string Name => "pcap";

    public override int MaxQueuesPerPort => 1;

    public override void ValidateBoard(BoardDefinition board, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (string key in board.Hal.Args.Keys)
        {
            int dot = key.LastIndexOf('.');
            string port = dot < 0 ? "" : key[..dot];
            string side = dot < 0 ? key : key[(dot + 1)..];
            if (side is not ("rx" or "tx") || !board.Ports.Exists(p => p.Name == port))
            {
                errors.Add($"$.hal.args.{key}: the pcap driver takes '<port>.rx' and '<port>.tx' for the board's ports ({string.Join(", ", board.Ports.Select(p => p.Name))})");
            }
        }
    }

    public override IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring)
    {
        ArgumentNullException.ThrowIfNull(board);
        if (queues != 1)
        {
            throw new HalException($"capture-file ports have one queue; run it with one worker, not {queues}");
        }

        PcapPort[] ports = OpenAll(board, (i, bp) => new PcapPort(SpecOf(board, i, 1), pool,
            board.Hal.Args.GetValueOrDefault(bp.Name + ".rx"), board.Hal.Args.GetValueOrDefault(bp.Name + ".tx")));
        WireQueues(ports, 1, static (port, _) => port.RxQueue(), static (port, _) => port.TxQueue(), wiring);
        return ports;
    }

#pragma warning disable CA2255 // A driver registers itself when the HAL loads (DPDK's RTE_PMD_REGISTER_VDEV); that is the point here.
    [ModuleInitializer]
    internal static void Register() => HalDrivers.Register(new PcapDriver());
#pragma warning restore CA2255
}
