using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.AfPacket;

/// <summary>
/// Linux interfaces through AF_PACKET. Arguments: <c>interfaces</c>, the Linux interface of each
/// board port in order (default: the port names); <c>netns</c>, a network namespace to open them
/// in; <c>rxRing</c>: "false" receives with recvmmsg instead of the TPACKET_V3 ring (kernels
/// without it).
/// </summary>
public sealed class AfPacketDriver : HalDriver
{
    private static readonly string[] s_arguments = ["interfaces", "netns", "rxRing"];

    public override string Name => "afpacket";

    public override void ValidateBoard(BoardDefinition board, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (string key in board.Hal.Args.Keys)
        {
            if (Array.IndexOf(s_arguments, key) < 0)
            {
                errors.Add($"$.hal.args.{key}: the afpacket driver takes {string.Join(", ", s_arguments)}");
            }
        }

        string[] names = InterfacesOf(board);
        if (names.Length != board.Ports.Count)
        {
            errors.Add($"$.hal.args.interfaces: names {names.Length} interfaces for {board.Ports.Count} ports");
        }

        if (board.Hal.Args.TryGetValue("rxRing", out string? ring) && ring is not ("true" or "false"))
        {
            errors.Add($"$.hal.args.rxRing: '{ring}' is not true or false");
        }
    }

    public override string? Unavailable() => OperatingSystem.IsLinux() ? null : "AF_PACKET is Linux only";

    /// <summary>Outside a namespace the interfaces can be looked up now; in one, they are looked up when the port opens.</summary>
    public override void CheckSystem(BoardDefinition board, SystemFacts facts, List<string> missing)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(missing);
        if (board.Hal.Args.ContainsKey("netns"))
        {
            return;
        }

        foreach (string name in InterfacesOf(board))
        {
            if (!facts.InterfaceExists(name))
            {
                missing.Add($"network interface '{name}': not present on this system");
            }
        }
    }

    public override IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring)
    {
        ArgumentNullException.ThrowIfNull(board);
        string[] names = InterfacesOf(board);
        if (names.Length != board.Ports.Count)
        {
            throw new AfPacketException($"hal.args.interfaces names {names.Length} interfaces for {board.Ports.Count} ports");
        }

        string? netns = board.Hal.Args.GetValueOrDefault("netns");
        bool rxRing = board.Hal.Args.GetValueOrDefault("rxRing") != "false";
        AfPacketPort[] ports = OpenAll(board, (i, _) => AfPacketPort.Open(SpecOf(board, i, queues), pool, names[i], netns, board.Queues.Burst, rxRing));
        WireQueues(ports, queues, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w), wiring);
        return ports;
    }

    private static string[] InterfacesOf(BoardDefinition board) =>
        board.Hal.Args.TryGetValue("interfaces", out string? list) ? list.Split(',', StringSplitOptions.TrimEntries)
            : [.. board.Ports.Select(p => p.Name)];

#pragma warning disable CA2255 // A driver registers itself when the HAL loads (DPDK's RTE_PMD_REGISTER_VDEV); that is the point here.
    [ModuleInitializer]
    internal static void Register() => HalDrivers.Register(new AfPacketDriver());
#pragma warning restore CA2255
}
