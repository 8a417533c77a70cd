namespace SnicRuntime.Hal.Board;

/// <summary>
/// Receives the queues a driver opened, typed as the driver's own structs (rx and tx queue
/// <c>[worker][port]</c>). The generic method is how setup code gets struct-typed queues out of a
/// driver chosen by name at run time: the dataplane builds its workers inside
/// <see cref="Wire{TRx, TTx}"/>, so NativeAOT compiles one worker loop per driver with direct calls
/// and the per-packet path has no virtual call.
/// </summary>
public interface IQueueWiring
{
    void Wire<TRx, TTx>(TRx[][] rx, TTx[][] tx)
        where TRx : struct, IRxQueue
        where TTx : struct, ITxQueue;
}

/// <summary>Why a driver could not open a board's ports, in plain words (an interface missing, not root, a socket in use, ...).</summary>
public class HalException(string message) : Exception(message);

/// <summary>
/// A HAL driver (VPP's vnet/dev driver, DPDK's PMD): its name in board files, the checks of its
/// own <c>hal.args</c>, what the system must have, and how it opens a board's ports. Each driver
/// registers one instance with <see cref="HalDrivers"/> from its own folder, so adding a driver is
/// adding a folder; the board loader, the firmware's requirement check and the card's assembly all
/// read that one registry.
/// </summary>
public abstract class HalDriver
{
    /// <summary>The name board files give in <c>hal.driver</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The capability a board using this driver must list in <c>supported</c>.</summary>
    public virtual string Capability => Name;

    /// <summary>Queue pairs a port of this driver can have (capture files: one).</summary>
    public virtual int MaxQueuesPerPort => int.MaxValue;

    /// <summary>Adds an error, with the board file's JSON path, for each of the driver's arguments or port fields that is wrong.</summary>
    public virtual void ValidateBoard(BoardDefinition board, List<string> errors)
    {
    }

    /// <summary>Why this driver cannot run in this build or on this system (null when it can).</summary>
    public virtual string? Unavailable() => null;

    /// <summary>Adds what <paramref name="board"/> needs of the system for this driver and does not find (interfaces, ...).</summary>
    public virtual void CheckSystem(BoardDefinition board, SystemFacts facts, List<string> missing)
    {
    }

    /// <summary>The packet pool the ports receive into; a driver whose device owns buffer memory (DPDK's mbufs) makes its own.</summary>
    public virtual PacketPool CreatePool(BoardDefinition board)
    {
        ArgumentNullException.ThrowIfNull(board);
        return new PacketPool(board.Memory.PacketBuffers, board.Memory.BufferDataRoom, board.Memory.BufferHeadroom);
    }

    /// <summary>
    /// Opens every port of <paramref name="board"/> with <paramref name="queues"/> queue pairs and
    /// hands their typed queues to <paramref name="wiring"/>. Throws <see cref="HalException"/>
    /// with nothing left open when a port cannot be opened.
    /// </summary>
    public abstract IPort[] Open(BoardDefinition board, PacketPool pool, int queues, IRssClassifier rss, IQueueWiring wiring);

    /// <summary>The board port's spec for <paramref name="queues"/> queue pairs.</summary>
    protected static PortSpec SpecOf(BoardDefinition board, int index, int queues)
    {
        ArgumentNullException.ThrowIfNull(board);
        BoardPort bp = board.Ports[index];
        return new PortSpec(index, bp.Name, queues, board.Queues.RxDepth, board.Queues.TxDepth, bp.SpeedGbps);
    }

    /// <summary>Opens every board port with <paramref name="open"/>; on any failure, closes those already open and rethrows.</summary>
    protected static TPort[] OpenAll<TPort>(BoardDefinition board, Func<int, BoardPort, TPort> open)
        where TPort : class, IPort
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(open);
        var ports = new TPort[board.Ports.Count];
        try
        {
            for (int i = 0; i < ports.Length; i++)
            {
                ports[i] = open(i, board.Ports[i]);
            }
        }
        catch (Exception)
        {
            // Whatever failed (a driver's refusal, a capture file that cannot be opened), nothing stays open.
            foreach (TPort? p in ports)
            {
                p?.Dispose();
            }

            throw;
        }

        return ports;
    }

    /// <summary>
    /// Worker w gets queue w of every port, as the driver's own queue structs. Loops, not LINQ, over
    /// the queue structs: LINQ over a new value type multiplies generic code in the image.
    /// </summary>
    protected static void WireQueues<TPort, TRx, TTx>(TPort[] ports, int queues, Func<TPort, int, TRx> rxOf, Func<TPort, int, TTx> txOf, IQueueWiring wiring)
        where TRx : struct, IRxQueue
        where TTx : struct, ITxQueue
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(rxOf);
        ArgumentNullException.ThrowIfNull(txOf);
        ArgumentNullException.ThrowIfNull(wiring);
        var rx = new TRx[queues][];
        var tx = new TTx[queues][];
        for (int w = 0; w < queues; w++)
        {
            rx[w] = new TRx[ports.Length];
            tx[w] = new TTx[ports.Length];
            for (int p = 0; p < ports.Length; p++)
            {
                rx[w][p] = rxOf(ports[p], w);
                tx[w][p] = txOf(ports[p], w);
            }
        }

        wiring.Wire(rx, tx);
    }
}
