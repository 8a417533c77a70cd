namespace SnicRuntime.Hal.Shm;

/// <summary>
/// A card's port on a <see cref="ShmLink"/>: queue i reads the link's ring i toward the card and
/// writes ring i toward the fabric. Also the card's side of the status board
/// (<see cref="IAnnouncingPort"/>).
/// </summary>
public sealed class ShmPort : IPort, IAnnouncingPort
{
    private readonly ShmLink _link;
    private readonly PacketPool _pool;
    private readonly QueueCounters[] _rx;
    private readonly QueueCounters[] _tx;

    public ShmPort(PortSpec spec, PacketPool pool, ShmLink link)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(link);
        if (spec.QueueCount > link.Queues)
        {
            throw new ShmLinkException($"shm link {link.Path} has {link.Queues} queue(s); port {spec.Name} asks for {spec.QueueCount}");
        }

        Id = spec.Id;
        Name = spec.Name;
        QueueCount = spec.QueueCount;
        _link = link;
        _pool = pool;
        _rx = [.. Enumerable.Range(0, QueueCount).Select(_ => new QueueCounters())];
        _tx = [.. Enumerable.Range(0, QueueCount).Select(_ => new QueueCounters())];
    }

    public int Id { get; }

    public string Name { get; }

    public int QueueCount { get; }

    public bool LinkUp => _link.LinkUp;

    public ShmLink Link => _link;

    public ShmRxQueue RxQueue(int queue) => new(_link.Ring(queue, toCard: true), _pool, _rx[queue]);

    public ShmTxQueue TxQueue(int queue) => new(_link.Ring(queue, toCard: false), _pool, _tx[queue], _link);

    public PortCounters ReadCounters()
    {
        PortCounters c = PortCounters.Sum(_rx, _tx);
        // Frames too large for a slot on transmit are the port's to report too (counted as rx oversize
        // has no tx twin in PortCounters; they are added there so the agent's figures include them).
        long txOversize = _tx.Sum(q => Volatile.Read(ref q.OversizeDrops));
        return c with { RxOversizeDrops = c.RxOversizeDrops + txOversize };
    }

    public int RxQueueDepth(int queue) => _link.Ring(queue, toCard: true).Count;

    public void Announce(ReadOnlySpan<byte> status) => _link.PublishStatus(status);

    public void Dispose() => _link.Dispose();
}
