using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Dpdk;

/// <summary>
/// One DPDK ethdev port as a SnicRuntime port: one rx and one tx queue per worker, started with
/// its own mbuf pool. Frames are copied between the port's mbufs and our pool's buffers inside
/// the shim, one burst per call (see snic_dpdk.c for why).
/// </summary>
public sealed unsafe class DpdkPort : IPort
{
    private readonly DpdkQueue[] _queues;
    private readonly PacketPool _pool;
    private volatile bool _linkUp;

    private DpdkPort(PortSpec spec, ushort portId, string device, DpdkQueue[] queues, PacketPool pool)
    {
        Id = spec.Id;
        Name = spec.Name;
        PortId = portId;
        Device = device;
        QueueCount = queues.Length;
        _queues = queues;
        _pool = pool;
        _linkUp = DpdkNative.LinkUp(portId) != 0;
    }

    public int Id { get; }

    public string Name { get; }

    /// <summary>DPDK's port id.</summary>
    public ushort PortId { get; }

    /// <summary>The device name the board gave (a vdev such as net_memif0, or a PCI address).</summary>
    public string Device { get; }

    public int QueueCount { get; }

    /// <summary>
    /// The link as this port last saw it: read from the PMD here (a management thread), and set by
    /// <see cref="SetLink"/>. The tx path reads only the flag, never the PMD.
    /// </summary>
    public bool LinkUp
    {
        get
        {
            int state = DpdkNative.LinkUp(PortId);
            if (state >= 0)
            {
                _linkUp = state == 1;
            }

            return _linkUp;
        }
    }

    internal bool LinkFlag => _linkUp;

    /// <summary>
    /// Asks the PMD again (tx path, only while the flag says down: a memif or vhost link comes up
    /// when its peer connects, and a dropped burst is the slow path anyway).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    internal bool RefreshLink()
    {
        int state = DpdkNative.LinkUp(PortId);
        _linkUp = state == 1;
        return _linkUp;
    }

    /// <summary>Takes the link down or up (rte_eth_dev_set_link_down/up), where the PMD can.</summary>
    public void SetLink(bool up)
    {
        _ = DpdkNative.SetLink(PortId, up ? 1 : 0);
        _linkUp = up;
    }

    public DpdkRxQueue RxQueue(int queue) => new(this, _queues[queue], _pool);

    public DpdkTxQueue TxQueue(int queue) => new(this, _queues[queue], _pool);

    public PortCounters ReadCounters() =>
        PortCounters.Sum(_queues.Select(q => q.RxCounters).ToList(), _queues.Select(q => q.TxCounters).ToList());

    /// <summary>The PMD's own counters: ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf.</summary>
    public ulong[] DeviceStats()
    {
        var s = new ulong[8];
        fixed (ulong* p = s)
        {
            _ = DpdkNative.Stats(PortId, p);
        }

        return s;
    }

    public int RxQueueDepth(int queue) => DpdkNative.RxDepth(PortId, (ushort)queue);

    /// <summary>Frames cut to the buffer size on receive (larger than our data room).</summary>
    public long Truncated => _queues.Sum(q => (long)q.Truncated);

    /// <summary>Starts <paramref name="device"/> (the EAL must be running) with one queue per worker.</summary>
    public static DpdkPort Open(PortSpec spec, PacketPool pool, string device, int burst)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pool);
        byte[] name = DpdkEal.Utf8(device);
        int id;
        fixed (byte* n = name)
        {
            id = DpdkNative.PortByName(n);
        }

        if (id < 0)
        {
            throw new DpdkException($"no DPDK port named '{device}' (give it to the EAL: --vdev for a virtual device, -a for a PCI one)");
        }

        byte* error = stackalloc byte[256];
        error[0] = 0;
        uint mbufs = (uint)Math.Max(1024, (spec.RxDepth + spec.TxDepth) * spec.QueueCount * 2);
        if (DpdkNative.PortStart((ushort)id, (ushort)spec.QueueCount, (ushort)spec.RxDepth, (ushort)spec.TxDepth, mbufs, error, 256) != 0)
        {
            throw new DpdkException($"DPDK port '{device}': {DpdkEal.Utf8Error(error)}");
        }

        var queues = new DpdkQueue[spec.QueueCount];
        for (int q = 0; q < queues.Length; q++)
        {
            queues[q] = new DpdkQueue((ushort)q, Math.Min(64, burst), spec.TxDepth);
        }

        return new DpdkPort(spec, (ushort)id, device, queues, pool);
    }

    public void Dispose()
    {
        DpdkNative.PortStop(PortId);
        foreach (DpdkQueue q in _queues)
        {
            q.Dispose();
        }
    }
}

/// <summary>One queue pair's native burst arrays (pointers and lengths, made once) and counters.</summary>
internal sealed unsafe class DpdkQueue : IDisposable
{
    public DpdkQueue(ushort id, int burst, int txDepth)
    {
        Id = id;
        Burst = burst;
        TxDepth = Math.Max(1, txDepth);
        RxPointers = (byte**)NativeMemory.AllocZeroed((nuint)(burst * sizeof(nint)));
        RxLengths = (ushort*)NativeMemory.AllocZeroed((nuint)(burst * sizeof(ushort)));
        TxPointers = (byte**)NativeMemory.AllocZeroed((nuint)(burst * sizeof(nint)));
        TxLengths = (ushort*)NativeMemory.AllocZeroed((nuint)(burst * sizeof(ushort)));
        TruncatedCell = (ulong*)NativeMemory.AllocZeroed(sizeof(ulong));
    }

    public ushort Id { get; }

    public int Burst { get; }

    /// <summary>Packets one tx burst may hand over: a descriptor ring takes at most its depth (virtual PMDs' rings are larger).</summary>
    public int TxDepth { get; }

    public byte** RxPointers { get; private set; }

    public ushort* RxLengths { get; private set; }

    public byte** TxPointers { get; private set; }

    public ushort* TxLengths { get; private set; }

    public ulong* TruncatedCell { get; private set; }

    public ulong Truncated => *TruncatedCell;

    public QueueCounters RxCounters { get; } = new();

    public QueueCounters TxCounters { get; } = new();

    public void Dispose()
    {
        NativeMemory.Free(RxPointers);
        NativeMemory.Free(RxLengths);
        NativeMemory.Free(TxPointers);
        NativeMemory.Free(TxLengths);
        NativeMemory.Free(TruncatedCell);
        RxPointers = null;
        TxPointers = null;
    }
}

/// <summary>Receive side: our buffers in, one shim call, the frames copied out of the mbufs.</summary>
public readonly unsafe struct DpdkRxQueue : IRxQueue
{
    private readonly DpdkPort _port;
    private readonly DpdkQueue _queue;
    private readonly PacketPool _pool;

    internal DpdkRxQueue(DpdkPort port, DpdkQueue queue, PacketPool pool)
    {
        _port = port;
        _queue = queue;
        _pool = pool;
    }

    public int RxBurst(Span<PacketRef> packets)
    {
        DpdkQueue q = _queue;
        int want = Math.Min(packets.Length, q.Burst);
        int got = _pool.AllocBulk(packets[..want]);
        if (got == 0)
        {
            return 0;
        }

        int room = ushort.MaxValue;
        for (int i = 0; i < got; i++)
        {
            q.RxPointers[i] = packets[i].DataPointer;
            room = Math.Min(room, packets[i].Tailroom);
        }

        int n = DpdkNative.Rx(_port.PortId, q.Id, q.RxPointers, q.RxLengths, (ushort)got, (ushort)room, q.TruncatedCell);
        long bytes = 0;
        for (int i = 0; i < n; i++)
        {
            packets[i].SetLength(q.RxLengths[i]);
            bytes += q.RxLengths[i];
        }

        if (n < got)
        {
            _pool.FreeBulk(packets[n..got]);
        }

        q.RxCounters.Packets += n;
        q.RxCounters.Bytes += bytes;
        return n;
    }
}

/// <summary>Transmit side: copied into mbufs by the shim, so what was sent goes back to our pool at once.</summary>
public readonly unsafe struct DpdkTxQueue : ITxQueue
{
    private readonly DpdkPort _port;
    private readonly DpdkQueue _queue;
    private readonly PacketPool _pool;

    internal DpdkTxQueue(DpdkPort port, DpdkQueue queue, PacketPool pool)
    {
        _port = port;
        _queue = queue;
        _pool = pool;
    }

    public int TxBurst(ReadOnlySpan<PacketRef> packets)
    {
        if (packets.IsEmpty)
        {
            return 0;
        }

        DpdkQueue q = _queue;
        if (!_port.LinkFlag && !_port.RefreshLink())
        {
            q.TxCounters.LinkDownDrops += packets.Length;
            return 0;
        }

        int total = 0;
        long bytes = 0;
        int offered = Math.Min(packets.Length, q.TxDepth);
        while (total < offered)
        {
            int n = Math.Min(q.Burst, offered - total);
            for (int i = 0; i < n; i++)
            {
                PacketRef p = packets[total + i];
                q.TxPointers[i] = p.DataPointer;
                q.TxLengths[i] = (ushort)p.Length;
                bytes += p.Length;
            }

            int sent = DpdkNative.Tx(_port.PortId, q.Id, q.TxPointers, q.TxLengths, (ushort)n);
            for (int i = sent; i < n; i++)
            {
                bytes -= packets[total + i].Length;
            }

            _pool.FreeBulk(packets.Slice(total, sent));
            total += sent;
            if (sent < n)
            {
                break;
            }
        }

        q.TxCounters.RingFullDrops += packets.Length - total;
        q.TxCounters.Packets += total;
        q.TxCounters.Bytes += bytes;
        return total;
    }
}
