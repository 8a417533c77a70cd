using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Parsing;

namespace SnicRuntime.Firmware.Workers;

/// <summary>
/// Counters of one worker. Written only by the worker's thread with plain adds (no atomics on the
/// hot path); any thread may read them, seeing values at most one burst old. Padded so two
/// workers' counters never share a cache line.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public sealed class WorkerCounters
{
#pragma warning disable CS0169, IDE0051 // padding
    private long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6, _pad7;
#pragma warning restore CS0169, IDE0051
    public long RxPackets;
    public long RxBytes;
    public long TxPackets;
    public long TxBytes;
    /// <summary>Vectors the stage processed (one per poll and queue that had packets; see <see cref="WorkerVector"/>).</summary>
    public long Bursts;
    public long IdlePolls;
    /// <summary>Time spent on bursts that carried packets, in <see cref="System.Diagnostics.Stopwatch"/> ticks (idle polling excluded).</summary>
    public long BusyTicks;
    /// <summary>Sum over packets of their burst's latency, in Stopwatch ticks (the histogram's sum).</summary>
    public long LatencySumTicks;
#pragma warning disable CS0169, IDE0051
    private long _pad8, _pad9, _pad10, _pad11, _pad12, _pad13, _pad14, _pad15;
#pragma warning restore CS0169, IDE0051

    /// <summary>Drops by <see cref="DropReason"/> (index = reason).</summary>
    public long[] Drops { get; } = new long[(int)DropReason.Count];

    /// <summary>Packets per <see cref="BurstLatency"/> bucket.</summary>
    public long[] LatencyBuckets { get; } = new long[BurstLatency.BucketCount];

    /// <summary>Time spent on bursts, in nanoseconds.</summary>
    public long BusyNanoseconds => TicksToNs(Volatile.Read(ref BusyTicks));

    /// <summary>Sum of per-packet burst latencies, in nanoseconds.</summary>
    public long LatencySumNanoseconds => TicksToNs(Volatile.Read(ref LatencySumTicks));

    public long[] LatencySnapshot()
    {
        var copy = new long[LatencyBuckets.Length];
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref LatencyBuckets[i]);
        }

        return copy;
    }

    internal static long TicksToNs(long ticks) =>
        System.Diagnostics.Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)(ticks * (1e9 / System.Diagnostics.Stopwatch.Frequency));

    public long TotalDrops
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < Drops.Length; i++)
            {
                sum += Volatile.Read(ref Drops[i]);
            }

            return sum;
        }
    }

    public WorkerSnapshot Snapshot() => new(
        Volatile.Read(ref RxPackets), Volatile.Read(ref RxBytes),
        Volatile.Read(ref TxPackets), Volatile.Read(ref TxBytes),
        TotalDrops, Volatile.Read(ref Bursts), Volatile.Read(ref IdlePolls));
}

public readonly record struct WorkerSnapshot(long RxPackets, long RxBytes, long TxPackets, long TxBytes, long Drops, long Bursts, long IdlePolls);
