using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Dpdk;

/// <summary>
/// One DPDK ethdev port as a SnicRuntime port: one rx and one tx queue per worker, receiving into
/// the dataplane's pool, which must be a <see cref="DpdkPool"/>: its buffers are mbufs, so a
/// received mbuf is handed to the workers as it is and a PacketRef is transmitted as the mbuf it
/// is (zero copy; see snic_dpdk.c). One shim call per burst.
/// </summary>
public sealed unsafe class DpdkPort : IPort
{
    private readonly DpdkQueue[] _queues;
    private volatile bool _linkUp;

    private DpdkPort(PortSpec spec, ushort portId, string device, DpdkQueue[] queues)
    {
        Id = spec.Id;
        Name = spec.Name;
        PortId = portId;
        Device = device;
        QueueCount = queues.Length;
        _queues = queues;
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

    public DpdkRxQueue RxQueue(int queue) => new(this, _queues[queue]);

    public DpdkTxQueue TxQueue(int queue) => new(this, _queues[queue]);

    /// <summary>Queue counters, with the shim's count of multi-segment frames as rx oversize drops.</summary>
    public PortCounters ReadCounters()
    {
        PortCounters c = PortCounters.Sum(_queues.Select(q => q.RxCounters).ToList(), _queues.Select(q => q.TxCounters).ToList());
        return c with { RxOversizeDrops = c.RxOversizeDrops + Oversize };
    }

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

    /// <summary>Frames received in several mbufs (larger than one buffer's data room), dropped: a PacketRef is one buffer.</summary>
    public long Oversize => _queues.Sum(q => (long)q.Oversize);

    /// <summary>Starts <paramref name="device"/> (the EAL must be running) with one queue per worker.</summary>
    public static DpdkPort Open(PortSpec spec, PacketPool pool, string device, int burst)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pool);
        // The pool first: a pool that is not DPDK's is the caller's mistake whatever the device.
        nint mempool = DpdkPool.MempoolOf(pool);
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
        if (DpdkNative.PortStart((ushort)id, (ushort)spec.QueueCount, (ushort)spec.RxDepth, (ushort)spec.TxDepth, mempool, error, 256) != 0)
        {
            throw new DpdkException($"DPDK port '{device}': {DpdkEal.Utf8Error(error)} (its rx rings take {spec.RxDepth} x {spec.QueueCount} buffers of the pool's {pool.BufferCount})");
        }

        var queues = new DpdkQueue[spec.QueueCount];
        for (int q = 0; q < queues.Length; q++)
        {
            queues[q] = new DpdkQueue((ushort)q, Math.Min(64, burst), spec.TxDepth);
        }

        return new DpdkPort(spec, (ushort)id, device, queues);
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

/// <summary>One queue pair's native burst array (PacketRef pointers, made once) and counters.</summary>
internal sealed unsafe class DpdkQueue : IDisposable
{
    public DpdkQueue(ushort id, int burst, int txDepth)
    {
        Id = id;
        Burst = burst;
        TxDepth = Math.Max(1, txDepth);
        OversizeCell = (ulong*)NativeMemory.AllocZeroed(sizeof(ulong));
    }

    public ushort Id { get; }

    public int Burst { get; }

    /// <summary>Packets one tx burst may hand over: a descriptor ring takes at most its depth (virtual PMDs' rings are larger).</summary>
    public int TxDepth { get; }

    public ulong* OversizeCell { get; private set; }

    public ulong Oversize => OversizeCell == null ? 0 : *OversizeCell;

    public QueueCounters RxCounters { get; } = new();

    public QueueCounters TxCounters { get; } = new();

    public void Dispose()
    {
        NativeMemory.Free(OversizeCell);
        OversizeCell = null;
    }
}

/// <summary>Receive side: one shim call; the mbufs it returns are the PacketRefs (no copy, no pre-allocation).</summary>
public readonly unsafe struct DpdkRxQueue : IRxQueue
{
    private readonly DpdkPort _port;
    private readonly DpdkQueue _queue;

    internal DpdkRxQueue(DpdkPort port, DpdkQueue queue)
    {
        _port = port;
        _queue = queue;
    }

    public int RxBurst(Span<PacketRef> packets)
    {
        DpdkQueue q = _queue;
        int want = Math.Min(packets.Length, q.Burst);
        int n;
        fixed (PacketRef* p = packets)
        {
            n = DpdkNative.Rx(_port.PortId, q.Id, (PacketHeader**)p, (ushort)want, (ushort)_port.Id, q.OversizeCell);
        }

        long bytes = 0;
        for (int i = 0; i < n; i++)
        {
            bytes += packets[i].Length;
        }

        q.RxCounters.Packets += n;
        q.RxCounters.Bytes += bytes;
        return n;
    }
}

/// <summary>Transmit side: the PacketRefs are the mbufs; what the port took is the port's (it frees them to the pool once sent).</summary>
public readonly unsafe struct DpdkTxQueue : ITxQueue
{
    private readonly DpdkPort _port;
    private readonly DpdkQueue _queue;

    internal DpdkTxQueue(DpdkPort port, DpdkQueue queue)
    {
        _port = port;
        _queue = queue;
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
        fixed (PacketRef* p = packets)
        {
            while (total < offered)
            {
                int n = Math.Min(q.Burst, offered - total);
                // Lengths are read before the call: once sent, an mbuf may already be back in the pool.
                for (int i = 0; i < n; i++)
                {
                    bytes += packets[total + i].Length;
                }

                int sent = DpdkNative.Tx(_port.PortId, q.Id, (PacketHeader**)(p + total), (ushort)n);
                for (int i = sent; i < n; i++)
                {
                    bytes -= packets[total + i].Length;
                }

                total += sent;
                if (sent < n)
                {
                    break;
                }
            }
        }

        q.TxCounters.RingFullDrops += packets.Length - total;
        q.TxCounters.Packets += total;
        q.TxCounters.Bytes += bytes;
        return total;
    }
}
