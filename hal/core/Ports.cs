namespace SnicRuntime.Hal;

/// <summary>What a board asks of one port (from its board file).</summary>
public sealed record PortSpec(int Id, string Name, int QueueCount, int RxDepth, int TxDepth, int SpeedGbps);

/// <summary>
/// One network port with <see cref="QueueCount"/> rx and tx queue pairs. Setup and inspection go
/// through this interface; the per-packet path uses the driver's struct queue types directly.
/// </summary>
public interface IPort : IDisposable
{
    int Id { get; }

    string Name { get; }

    int QueueCount { get; }

    bool LinkUp { get; }

    PortCounters ReadCounters();

    /// <summary>Packets waiting in rx queue <paramref name="queue"/> (a sample; any thread may ask), or -1 when the driver cannot tell.</summary>
    int RxQueueDepth(int queue);
}

/// <summary>
/// Computes the receive-side-scaling hash of a frame. The NIC (here: the emulated driver's wire
/// side) uses it to pick the rx queue, so the firmware installs a symmetric hash to land both
/// directions of a flow on the same worker.
/// </summary>
public interface IRssClassifier
{
    uint Hash(ReadOnlySpan<byte> frame);
}

/// <summary>
/// A port whose far end can be told something outside the packet stream: what DASH's DPU tells the
/// NPU over its BGP/BFD sessions (which scopes it serves, under which term, whether it is ready).
/// The HA layer publishes its status through it; the switch steers by it.
/// </summary>
public interface IAnnouncingPort
{
    /// <summary>Replaces the status the far end reads (a few KB at most). Called from setup and HA threads, never per packet.</summary>
    void Announce(ReadOnlySpan<byte> status);
}
