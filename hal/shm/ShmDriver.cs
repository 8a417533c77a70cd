using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.Shm;

/// <summary>
/// Shared-memory wires to a fabric process (<c>snicctl fabric</c>, the ToR of DASH's smart switch).
/// Argument <c>links</c>: the link file of each board port in order, comma-separated (the fabric
/// creates them; the card attaches). One queue pair per port: the fabric cannot compute the
/// firmware's RSS, so a card on this driver runs one worker.
/// </summary>
public sealed class ShmDriver : HalDriver
{
    public override string Name => "shm";

    public override string Capability => "shm-io";

    public override int MaxQueuesPerPort => 1;

    public override void ValidateBoard(BoardDefinition board, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (string key in board.Hal.Args.Keys.Where(k => k != "links"))
        {
            errors.Add($"$.hal.args.{key}: the shm driver takes links");
        }

        string[] links = LinksOf(board);
        if (links.Length != board.Ports.Count)
        {
            errors.Add($"$.hal.args.links: names {links.Length} link files for {board.Ports.Count} ports");
        }
    }

    public override string? Unavailable() => OperatingSystem.IsLinux() ? null : "shared-memory links live in /dev/shm (Linux)";

    public override void CheckSystem(BoardDefinition board, SystemFacts facts, List<string> missing)
    {
        ArgumentNullException.ThrowIfNull(missing);
        foreach (string link in LinksOf(board))
        {
            if (!File.Exists(link))
            {
                missing.Add($"shm link '{link}': not present (the fabric creates it; start the fabric first)");
            }
        }
    }

    public override IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring)
    {
        string[] links = LinksOf(board);
        ShmPort[] ports = OpenAll(board, (i, _) =>
        {
            ShmLink link = ShmLink.Attach(links[i]);
            try
            {
                return new ShmPort(SpecOf(board, i, queues), pool, link);
            }
            catch
            {
                link.Dispose();
                throw;
            }
        });
        WireQueues(ports, queues, static (port, w) => port.RxQueue(w), static (port, w) => port.TxQueue(w), wiring);
        return ports;
    }

    private static string[] LinksOf(BoardDefinition board) =>
        board.Hal.Args.TryGetValue("links", out string? links) ? links.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];

#pragma warning disable CA2255 // A driver registers itself when the HAL loads (DPDK's RTE_PMD_REGISTER_VDEV); that is the point here.
    [ModuleInitializer]
    internal static void Register() => HalDrivers.Register(new ShmDriver());
#pragma warning restore CA2255
}
