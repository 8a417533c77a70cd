namespace SnicRuntime.Hal.Virtio;

/// <summary>
/// A port whose other end is a virtio-net driver (a VM, or DPDK's virtio_user) over vhost-user:
/// queue pair w belongs to worker w. Receiving reads the driver's transmit ring; transmitting
/// fills its receive ring's buffers (mergeable: a frame may span several).
/// </summary>
public sealed class VhostPort : IPort
{
    /// <summary>virtio_net_hdr with num_buffers (VERSION_1 / MRG_RXBUF): 12 bytes before every frame.</summary>
    public const int NetHeader = 12;

    private readonly VhostUserBackend _backend;
    private readonly PacketPool _pool;
    private readonly QueueCounters[] _rx;
    private readonly QueueCounters[] _tx;
    private readonly VhostLink _link = new();

    public VhostPort(PortSpec spec, PacketPool pool, string socketPath)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Id = spec.Id;
        Name = spec.Name;
        QueueCount = spec.QueueCount;
        SocketPath = socketPath;
        _link.TxDepth = Math.Max(1, spec.TxDepth);
        _pool = pool;
        _backend = new VhostUserBackend(socketPath, spec.QueueCount);
        _rx = [.. Enumerable.Range(0, QueueCount).Select(_ => new QueueCounters())];
        _tx = [.. Enumerable.Range(0, QueueCount).Select(_ => new QueueCounters())];
    }

    public int Id { get; }

    public string Name { get; }

    public int QueueCount { get; }

    public string SocketPath { get; }

    /// <summary>Up while a driver is connected, its rings run, and the port is not set down.</summary>
    public bool LinkUp => _link.Up && _backend.Connected && _backend.Queues.All(q => q.Ready);

    /// <summary>Sets the port administratively down (transmit refused and counted) or up again.</summary>
    public void SetLink(bool up) => _link.Up = up;

    public VhostUserBackend Backend => _backend;

    public VhostRxQueue RxQueue(int queue) => new(_backend.Queues[(2 * queue) + 1], _pool, _rx[queue]);

    public VhostTxQueue TxQueue(int queue) => new(_backend.Queues[2 * queue], _pool, _tx[queue], _link);

    public PortCounters ReadCounters() => PortCounters.Sum(_rx, _tx);

    public int RxQueueDepth(int queue)
    {
        SplitVirtqueue q = _backend.Queues[(2 * queue) + 1];
        return q.Ready ? q.Pending : 0;
    }

    public void Dispose() => _backend.Dispose();
}

/// <summary>The port's administrative state and transmit depth, shared with its tx queues.</summary>
internal sealed class VhostLink
{
    public volatile bool Up = true;

    /// <summary>Frames one tx burst may hand over (a descriptor ring takes at most its depth; the driver may post more buffers).</summary>
    public int TxDepth;
}

/// <summary>Receive: frames the driver transmitted, copied out of its buffers (the net header skipped).</summary>
public readonly unsafe struct VhostRxQueue : IRxQueue
{
    private readonly SplitVirtqueue _q;
    private readonly PacketPool _pool;
    private readonly QueueCounters _counters;

    internal VhostRxQueue(SplitVirtqueue q, PacketPool pool, QueueCounters counters)
    {
        _q = q;
        _pool = pool;
        _counters = counters;
    }

    public int RxBurst(Span<PacketRef> packets)
    {
        SplitVirtqueue q = _q;
        if (!q.Ready)
        {
            return 0;
        }

        Interlocked.Increment(ref q.InBurst); // odd: inside (the control thread waits before unmapping)
        try
        {
            if (!q.Ready)
            {
                return 0;
            }

            int want = Math.Min(packets.Length, q.Pending);
            int got = want == 0 ? 0 : _pool.AllocBulk(packets[..want]);
            long bytes = 0;
            int kept = 0;
            for (int i = 0; i < got; i++)
            {
                ushort head = q.NextAvailHead();
                int length = 0, skip = VhostPort.NetHeader, room = packets[i].Tailroom;
                byte* dst = packets[i].DataPointer;
                ushort index = head;
                for (int hops = 0; hops < q.Size; hops++)
                {
                    q.Descriptor(index, out ulong address, out uint len, out ushort flags, out ushort next);
                    byte* src = q.Memory!.FromGuest(address, len);
                    if (src != null)
                    {
                        int from = Math.Min(skip, (int)len);
                        skip -= from;
                        int n = (int)len - from;
                        if (length < 0 || n > room - length)
                        {
                            length = -1; // does not fit one buffer: the rest of the chain is walked, not copied
                        }
                        else
                        {
                            new ReadOnlySpan<byte>(src + from, n).CopyTo(new Span<byte>(dst + length, n));
                            length += n;
                        }
                    }

                    if ((flags & SplitVirtqueue.DescNext) == 0)
                    {
                        break;
                    }

                    index = next;
                }

                q.AddUsed(head, 0);
                if (length < 0)
                {
                    _counters.OversizeDrops++; // larger than a buffer: dropped whole, never forwarded cut short
                    _pool.Free(packets[i]);
                    packets[i] = default;
                    continue;
                }

                packets[i].SetLength(length);
                bytes += length;
                packets[kept++] = packets[i];
            }

            if (got > 0)
            {
                q.Flush();
            }

            _counters.Packets += kept;
            _counters.Bytes += bytes;
            return kept;
        }
        finally
        {
            Interlocked.Increment(ref q.InBurst);
        }
    }
}

/// <summary>Transmit: each frame written into the driver's receive buffers behind a net header; sent buffers go back to our pool.</summary>
public readonly unsafe struct VhostTxQueue : ITxQueue
{
    private readonly SplitVirtqueue _q;
    private readonly PacketPool _pool;
    private readonly QueueCounters _counters;

    private readonly VhostLink _link;

    internal VhostTxQueue(SplitVirtqueue q, PacketPool pool, QueueCounters counters, VhostLink link)
    {
        _q = q;
        _pool = pool;
        _counters = counters;
        _link = link;
    }

    public int TxBurst(ReadOnlySpan<PacketRef> packets)
    {
        if (packets.IsEmpty)
        {
            return 0;
        }

        SplitVirtqueue q = _q;
        if (!q.Ready || !_link.Up)
        {
            _counters.LinkDownDrops += packets.Length;
            return 0;
        }

        Interlocked.Increment(ref q.InBurst);
        int sent = 0;
        int offered = Math.Min(packets.Length, _link.TxDepth);
        long bytes = 0;
        try
        {
            if (!q.Ready)
            {
                _counters.LinkDownDrops += packets.Length;
                return 0;
            }

            for (; sent < offered; sent++)
            {
                if (!Write(q, packets[sent]))
                {
                    break; // no receive buffers left: the rest is refused, as a full ring
                }

                bytes += packets[sent].Length;
            }

            if (sent > 0)
            {
                q.Flush();
            }
        }
        finally
        {
            Interlocked.Increment(ref q.InBurst);
        }

        _pool.FreeBulk(packets[..sent]);
        _counters.Packets += sent;
        _counters.Bytes += bytes;
        _counters.RingFullDrops += packets.Length - sent;
        return sent;
    }

    // One frame: header + data over as many buffers as it needs (mergeable rx buffers).
    private static bool Write(SplitVirtqueue q, PacketRef packet)
    {
        int total = VhostPort.NetHeader + packet.Length;
        // Enough buffers for the worst case (each at least the header) are checked buffer by buffer;
        // a frame never starts unless its first buffer exists.
        if (q.Pending == 0)
        {
            return false;
        }

        byte* frame = packet.DataPointer;
        int written = 0; // of header + frame
        ushort buffers = 0;
        byte* numBuffers = null;
        while (written < total)
        {
            if (q.Pending == 0)
            {
                // The driver ran out mid-frame: the buffers used so far carry a frame it will see as
                // truncated by num_buffers; we count it sent (rare: a ring emptied between checks).
                break;
            }

            ushort head = q.NextAvailHead();
            q.Descriptor(head, out ulong address, out uint len, out _, out _);
            byte* dst = q.Memory!.FromGuest(address, len);
            if (written == 0 && len < VhostPort.NetHeader)
            {
                dst = null; // a buffer too small for the header is the driver's error: give it back empty
            }

            int n = 0;
            if (dst != null)
            {
                if (written == 0)
                {
                    new Span<byte>(dst, VhostPort.NetHeader).Clear();
                    numBuffers = dst + 10;
                    n = VhostPort.NetHeader;
                }

                int data = Math.Min((int)len - n, total - written - n);
                int from = written + n - VhostPort.NetHeader;
                new ReadOnlySpan<byte>(frame + from, data).CopyTo(new Span<byte>(dst + n, data));
                n += data;
            }

            q.AddUsed(head, (uint)n);
            written += n;
            buffers++;
            if (dst == null)
            {
                break;
            }
        }

        if (numBuffers == null)
        {
            q.Flush();
            return false; // not even the header could be written: the frame is refused, counted by the caller
        }

        *(ushort*)numBuffers = buffers;
        return true;
    }
}
