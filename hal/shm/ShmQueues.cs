using System.Runtime.CompilerServices;

namespace SnicRuntime.Hal.Shm;

/// <summary>
/// Worker end of a shared-memory rx queue: copies the frames the fabric wrote into pool buffers.
/// A frame waits in the ring while the pool is empty (back-pressure, as a NIC without descriptors).
/// </summary>
public readonly struct ShmRxQueue : IRxQueue
{
    private readonly ShmRing _ring;
    private readonly PacketPool _pool;
    private readonly QueueCounters _counters;

    internal ShmRxQueue(ShmRing ring, PacketPool pool, QueueCounters counters)
    {
        _ring = ring;
        _pool = pool;
        _counters = counters;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int RxBurst(Span<PacketRef> packets)
    {
        int ready = Math.Min(_ring.Ready(), packets.Length);
        if (ready == 0)
        {
            return 0;
        }

        int got = _pool.AllocBulk(packets[..ready]);
        int n = 0;
        long bytes = 0;
        for (int i = 0; i < got; i++)
        {
            ReadOnlySpan<byte> frame = _ring.Peek(i, out bool oversize);
            if (oversize || !packets[n].SetLength(frame.Length))
            {
                _counters.OversizeDrops++; // a length the slot or the buffer cannot hold: dropped, never cut
                continue;
            }

            frame.CopyTo(packets[n].Data);
            bytes += frame.Length;
            n++;
        }

        _ring.Release(got);
        if (n < got)
        {
            _pool.FreeBulk(packets[n..got]);
        }

        _counters.Packets += n;
        _counters.Bytes += bytes;
        return n;
    }
}

/// <summary>Worker end of a shared-memory tx queue: copies frames into the ring toward the fabric and frees the buffers.</summary>
public readonly struct ShmTxQueue : ITxQueue
{
    private readonly ShmRing _ring;
    private readonly PacketPool _pool;
    private readonly QueueCounters _counters;
    private readonly ShmLink _link;

    internal ShmTxQueue(ShmRing ring, PacketPool pool, QueueCounters counters, ShmLink link)
    {
        _ring = ring;
        _pool = pool;
        _counters = counters;
        _link = link;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int TxBurst(ReadOnlySpan<PacketRef> packets)
    {
        if (!_link.LinkUp)
        {
            _counters.LinkDownDrops += packets.Length;
            return 0;
        }

        int n = Math.Min(_ring.Free(), packets.Length);
        long bytes = 0;
        int written = 0;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> frame = packets[i].Data;
            if (frame.Length > _ring.MaxFrame)
            {
                _counters.OversizeDrops++; // larger than a slot: dropped and counted, the buffer freed below
                continue;
            }

            _ring.Write(written++, frame);
            bytes += frame.Length;
        }

        _ring.Publish(written);
        _pool.FreeBulk(packets[..n]); // copied out: the buffers go back at once
        _counters.Packets += written;
        _counters.Bytes += bytes;
        _counters.RingFullDrops += packets.Length - n;
        return n;
    }
}
