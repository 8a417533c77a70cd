using System.Runtime.CompilerServices;

namespace SnicRuntime.Hal.Emulated;

/// <summary>Worker end of an emulated rx queue: dequeues from the queue's ring.</summary>
public readonly struct EmulatedRxQueue : IRxQueue
{
    private readonly SpscRing<PacketRef> _ring;
    private readonly QueueCounters _counters;

    internal EmulatedRxQueue(SpscRing<PacketRef> ring, QueueCounters counters)
    {
        _ring = ring;
        _counters = counters;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int RxBurst(Span<PacketRef> packets)
    {
        // Bytes were counted by the wire side as the frames arrived, as a NIC's MAC counts them;
        // the worker's dequeue touches no packet.
        int n = _ring.DequeueBurst(packets);
        _counters.Packets += n;
        return n;
    }
}

/// <summary>Worker end of an emulated tx queue: enqueues onto the wire's ring.</summary>
public readonly struct EmulatedTxQueue : ITxQueue
{
    private readonly SpscRing<PacketRef> _ring;
    private readonly QueueCounters _counters;
    private readonly EmulatedPort _port;
    private readonly QueueCounters? _peerRx;

    internal EmulatedTxQueue(SpscRing<PacketRef> ring, QueueCounters counters, EmulatedPort port, QueueCounters? peerRx)
    {
        _ring = ring;
        _counters = counters;
        _port = port;
        _peerRx = peerRx;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int TxBurst(ReadOnlySpan<PacketRef> packets)
    {
        if (!_port.LinkUp)
        {
            _counters.LinkDownDrops += packets.Length;
            return 0;
        }

        // Lengths are read before the enqueue: after it, accepted packets belong to the consumer.
        long bytes = 0;
        for (int i = 0; i < packets.Length; i++)
        {
            bytes += packets[i].Length;
        }

        int n = _ring.EnqueueBurst(packets);
        for (int i = n; i < packets.Length; i++)
        {
            bytes -= packets[i].Length;
        }

        _counters.Packets += n;
        _counters.Bytes += bytes;
        _counters.RingFullDrops += packets.Length - n;
        if (_peerRx is not null)
        {
            _peerRx.Bytes += bytes;
        }

        return n;
    }
}
