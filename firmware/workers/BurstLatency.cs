using System.Numerics;

namespace SnicRuntime.Firmware.Workers;

/// <summary>
/// Buckets of the burst-latency histogram: how long a worker held a burst, from its receive to the
/// end of its transmit, counted once per packet in the burst (every packet of a burst waits for
/// the whole burst). Bucket <c>i</c> holds times up to <c>64 ns × 2^i</c>; the last one is
/// unbounded. Powers of two keep the bucket a count-leading-zeros away, so the worker pays two
/// clock reads and one add per burst, not per packet.
/// </summary>
public static class BurstLatency
{
    /// <summary>Number of buckets (the last one is +Inf): 64 ns … 64 ns × 2^18 ≈ 16.8 ms, then +Inf.</summary>
    public const int BucketCount = 20;

    private const int FirstBoundLog2 = 6; // 64 ns

    /// <summary>Upper bound of bucket <paramref name="i"/> in nanoseconds; <see cref="double.PositiveInfinity"/> for the last.</summary>
    public static double UpperBoundNs(int i) => i >= BucketCount - 1 ? double.PositiveInfinity : (double)(1L << (FirstBoundLog2 + i));

    /// <summary>The bucket of a time of <paramref name="ns"/> nanoseconds.</summary>
    public static int Bucket(long ns)
    {
        if (ns <= 1L << FirstBoundLog2)
        {
            return 0;
        }

        // ceil(log2(ns)) - 6: 65..128 → 1, 129..256 → 2, ...
        int log2Ceil = 64 - BitOperations.LeadingZeroCount((ulong)(ns - 1));
        return Math.Min(BucketCount - 1, log2Ceil - FirstBoundLog2);
    }
}
