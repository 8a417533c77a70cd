using System.Runtime.InteropServices;

namespace SnicRuntime.Hal;

/// <summary>
/// Counters of one queue, written by the single thread that owns the queue end and read by
/// anyone. Padded to two cache lines so neighbouring queues' counters never share a line.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public sealed class QueueCounters
{
#pragma warning disable CS0169, IDE0051 // padding
    private long _padBefore0, _padBefore1, _padBefore2, _padBefore3, _padBefore4, _padBefore5, _padBefore6;
#pragma warning restore CS0169, IDE0051
    public long Packets;
    public long Bytes;
    /// <summary>Packets refused because the ring was full (rx: the NIC's "missed"; tx: caller must free).</summary>
    public long RingFullDrops;
    /// <summary>Packets refused because the link was down.</summary>
    public long LinkDownDrops;
    /// <summary>Received frames larger than one buffer's data room, dropped (never forwarded cut short).</summary>
    public long OversizeDrops;
#pragma warning disable CS0169, IDE0051
    private long _padAfter0, _padAfter1, _padAfter2, _padAfter3;
#pragma warning restore CS0169, IDE0051
}

/// <summary>A consistent-enough snapshot of a port's counters (sums over its queues).</summary>
public readonly record struct PortCounters(
    long RxPackets,
    long RxBytes,
    long RxRingFullDrops,
    long RxLinkDownDrops,
    long TxPackets,
    long TxBytes,
    long TxRingFullDrops,
    long TxLinkDownDrops,
    long RxOversizeDrops = 0)
{
    public static PortCounters Sum(IReadOnlyList<QueueCounters> rx, IReadOnlyList<QueueCounters> tx)
    {
        long rp = 0, rb = 0, rf = 0, rl = 0, ro = 0, tp = 0, tb = 0, tf = 0, tl = 0;
        foreach (QueueCounters q in rx)
        {
            rp += Volatile.Read(ref q.Packets);
            rb += Volatile.Read(ref q.Bytes);
            rf += Volatile.Read(ref q.RingFullDrops);
            rl += Volatile.Read(ref q.LinkDownDrops);
            ro += Volatile.Read(ref q.OversizeDrops);
        }

        foreach (QueueCounters q in tx)
        {
            tp += Volatile.Read(ref q.Packets);
            tb += Volatile.Read(ref q.Bytes);
            tf += Volatile.Read(ref q.RingFullDrops);
            tl += Volatile.Read(ref q.LinkDownDrops);
        }

        return new PortCounters(rp, rb, rf, rl, tp, tb, tf, tl, ro);
    }
}
