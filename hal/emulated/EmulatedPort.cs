namespace SnicRuntime.Hal.Emulated;

/// <summary>
/// An in-memory NIC port. Each queue pair is two SPSC rings: the rx ring is filled from the wire
/// side (<see cref="Inject"/>, or a peer port's tx) and emptied by one worker; the tx ring is
/// filled by one worker and emptied by the wire side (<see cref="Drain"/>, or a peer port's rx).
/// </summary>
/// <remarks>
/// Threading: the wire side of a port (Inject and Drain) belongs to one thread, each queue's
/// worker end to one worker. Wiring two ports with <see cref="Connect"/> makes A's tx ring i the
/// very ring B's rx queue i reads (a cable that keeps queue numbers), so each ring still has one
/// producer and one consumer and a flow stays on the worker the first port's RSS chose.
/// </remarks>
public sealed class EmulatedPort : IPort
{
    // A RETA (redirection table) as real NICs have: queue = reta[hash % size].
    private const int RetaSize = 128;

    private readonly PacketPool _pool;
    private readonly SpscRing<PacketRef>[] _rxRings;
    private SpscRing<PacketRef>[] _txRings;
    private readonly QueueCounters[] _rxCounters;
    private readonly QueueCounters[] _txCounters;
    private readonly IRssClassifier? _rss;
    private readonly byte[] _reta = new byte[RetaSize];
    private readonly PacketRef[][] _staging;
    private readonly int[] _stagingCount;
    private EmulatedPort? _peer;
    private int _drainCursor;
    private volatile bool _linkUp = true;

    public EmulatedPort(PortSpec spec, PacketPool pool, IRssClassifier? rss)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pool);
        if (spec.QueueCount is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.QueueCount, $"port '{spec.Name}': queue count must be 1..64");
        }

        if (spec.QueueCount > 1 && rss is null)
        {
            throw new ArgumentException($"port '{spec.Name}' has {spec.QueueCount} queues and needs an RSS classifier to spread packets", nameof(rss));
        }

        Id = spec.Id;
        Name = spec.Name;
        QueueCount = spec.QueueCount;
        _pool = pool;
        _rss = rss;
        _rxRings = new SpscRing<PacketRef>[QueueCount];
        _txRings = new SpscRing<PacketRef>[QueueCount];
        _rxCounters = new QueueCounters[QueueCount];
        _txCounters = new QueueCounters[QueueCount];
        _staging = new PacketRef[QueueCount][];
        _stagingCount = new int[QueueCount];
        for (int q = 0; q < QueueCount; q++)
        {
            _rxRings[q] = new SpscRing<PacketRef>(RoundUp(spec.RxDepth));
            _txRings[q] = new SpscRing<PacketRef>(RoundUp(spec.TxDepth));
            _rxCounters[q] = new QueueCounters();
            _txCounters[q] = new QueueCounters();
            _staging[q] = new PacketRef[StagingSize];
        }

        for (int i = 0; i < RetaSize; i++)
        {
            _reta[i] = (byte)(i % QueueCount);
        }
    }

    private const int StagingSize = 64;

    public int Id { get; }

    public string Name { get; }

    public int QueueCount { get; }

    public bool LinkUp => _linkUp;

    /// <summary>Packets the wire offered that the NIC dropped because the link was down.</summary>
    public long WireLinkDownDrops { get; private set; }

    public void SetLink(bool up) => _linkUp = up;

    public EmulatedRxQueue RxQueue(int queue) => new(_rxRings[queue], _rxCounters[queue]);

    // A cabled port's tx also counts the bytes its peer's rx queue receives (no wire thread sees them).
    public EmulatedTxQueue TxQueue(int queue) => new(_txRings[queue], _txCounters[queue], this, _peer?._rxCounters[queue]);

    public PortCounters ReadCounters() => PortCounters.Sum(_rxCounters, _txCounters);

    public int RxQueueDepth(int queue) => _rxRings[queue].Count;

    /// <summary>Packets waiting in rx rings (not yet taken by workers).</summary>
    public int RxPending => _rxRings.Sum(r => r.Count);

    /// <summary>Packets waiting in tx rings (not yet taken by the wire).</summary>
    public int TxPending => _txRings.Sum(r => r.Count);

    /// <summary>The rx queue a frame is steered to by this port's RSS.</summary>
    public int QueueFor(ReadOnlySpan<byte> frame) =>
        _rss is null ? 0 : _reta[_rss.Hash(frame) % RetaSize];

    /// <summary>The rx queue of frames whose RSS hash is <paramref name="hash"/> (HA sync routes a flow to its worker this way).</summary>
    public int QueueForHash(uint hash) => _rss is null ? 0 : _reta[hash % RetaSize];

    /// <summary>
    /// Cables A and B together: what A's queue i transmits, B's queue i receives, and back.
    /// Must be done before traffic starts.
    /// </summary>
    public static void Connect(EmulatedPort a, EmulatedPort b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.QueueCount != b.QueueCount)
        {
            throw new ArgumentException($"ports '{a.Name}' and '{b.Name}' have different queue counts ({a.QueueCount} vs {b.QueueCount})");
        }

        if (a._peer is not null || b._peer is not null || ReferenceEquals(a, b))
        {
            throw new InvalidOperationException($"ports '{a.Name}' and '{b.Name}' cannot be cabled: one is already connected or they are the same port");
        }

        foreach (SpscRing<PacketRef> r in a._txRings)
        {
            r.Dispose();
        }

        foreach (SpscRing<PacketRef> r in b._txRings)
        {
            r.Dispose();
        }

        a._txRings = b._rxRings;
        b._txRings = a._rxRings;
        a._peer = b;
        b._peer = a;
    }

    /// <summary>
    /// Wire side: frames arriving at the port. Each is steered to an rx queue by RSS; a full ring
    /// drops the frame (freed to the pool and counted, as a NIC counts "missed"). Returns how many
    /// were queued. Ownership of every packet passes to the port either way.
    /// </summary>
    public int Inject(ReadOnlySpan<PacketRef> packets)
    {
        if (_peer is not null)
        {
            throw new InvalidOperationException($"port '{Name}' is cabled to '{_peer.Name}'; its rx is fed by that port");
        }

        if (!_linkUp)
        {
            WireLinkDownDrops += packets.Length;
            _pool.FreeBulk(packets);
            return 0;
        }

        int accepted = 0;
        while (!packets.IsEmpty)
        {
            int chunk = Math.Min(packets.Length, StagingSize);
            for (int i = 0; i < chunk; i++)
            {
                PacketRef p = packets[i];
                uint hash = _rss?.Hash(p.Data) ?? 0;
                p.Header.RssHash = hash;
                int q = _reta[hash % RetaSize];
                p.Header.Port = (ushort)Id;
                p.Header.Queue = (ushort)q;
                _staging[q][_stagingCount[q]++] = p;
            }

            for (int q = 0; q < QueueCount; q++)
            {
                int n = _stagingCount[q];
                if (n == 0)
                {
                    continue;
                }

                // Count bytes before the enqueue: afterwards the worker owns the packets.
                long bytes = 0;
                for (int i = 0; i < n; i++)
                {
                    bytes += _staging[q][i].Length;
                }

                int sent = _rxRings[q].EnqueueBurst(_staging[q].AsSpan(0, n));
                if (sent < n)
                {
                    for (int i = sent; i < n; i++)
                    {
                        bytes -= _staging[q][i].Length;
                    }

                    _rxCounters[q].RingFullDrops += n - sent; // wire side owns this counter field
                    _pool.FreeBulk(_staging[q].AsSpan(sent, n - sent));
                }

                _rxCounters[q].Bytes += bytes; // so does this one: the MAC counts what it receives

                accepted += sent;
                _stagingCount[q] = 0;
            }

            packets = packets[chunk..];
        }

        return accepted;
    }

    /// <summary>Wire side: takes transmitted frames from the tx rings, round-robin over queues.</summary>
    public int Drain(Span<PacketRef> packets)
    {
        if (_peer is not null)
        {
            throw new InvalidOperationException($"port '{Name}' is cabled to '{_peer.Name}'; its tx is read by that port");
        }

        int total = 0;
        for (int k = 0; k < QueueCount && total < packets.Length; k++)
        {
            int q = (_drainCursor + k) % QueueCount;
            total += _txRings[q].DequeueBurst(packets[total..]);
        }

        _drainCursor = (_drainCursor + 1) % QueueCount;
        return total;
    }

    public void Dispose()
    {
        foreach (SpscRing<PacketRef> r in _rxRings)
        {
            r.Dispose();
        }

        if (_peer is null)
        {
            foreach (SpscRing<PacketRef> r in _txRings)
            {
                r.Dispose();
            }
        }
    }

    private static int RoundUp(int depth) =>
        (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(depth, 2, 1 << 20));
}
